export { portalService } from "./service.ts";
export { portalSettings, type PortalSettings } from "./settings.ts";
