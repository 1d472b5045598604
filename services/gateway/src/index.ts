export { Authenticator, type Caller } from "./auth.ts";
export { ensureDevKeys, mintDevToken, type TokenRequest } from "./dev-keys.ts";
export { openApiDocument } from "./openapi.ts";
export { gateway, gatewaySettings, type GatewaySettings } from "./service.ts";
