export { EventCounts, type Totals } from "./events.ts";
export { observatoryService, readReport } from "./service.ts";
export { observatorySettings, type ObservatorySettings } from "./settings.ts";
export { indicators, toCsv, type Report } from "./indicators.ts";
