export { CallerKubernetesClient } from "./kubernetes.ts";
export { openApiDocument } from "./openapi.ts";
export { gateway, gatewaySettings, type GatewaySettings } from "./service.ts";
