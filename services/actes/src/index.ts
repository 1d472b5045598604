export * from "./domain/act.ts";
export * from "./domain/envelope.ts";
export * from "./domain/identifiers.ts";
export * from "./domain/statuses.ts";
export { actesService, actView } from "./service.ts";
export { actesSettings, type ActesSettings } from "./settings.ts";
export type { PrefectureReturn, TransmissionReply } from "./use-cases.ts";
