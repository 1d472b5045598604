export { sesfService } from "./service.ts";
export { sesfSettings, type SesfSettings } from "./settings.ts";
export { DecryptStream, EncryptStream, tenantKey } from "./crypto.ts";
