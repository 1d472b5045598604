export { loadOperatorConfig, OperatorConfigError, type OperatorConfig } from "./config.ts";
export { startOperator, type RunningOperator } from "./operator.ts";
export { createLogger, type Logger } from "./runtime/log.ts";
export * from "./constants.ts";
export { tenantPermissions } from "./tenancy/nats-accounts.ts";
export { resolveQuota, defaultSize } from "./controllers/collectivity/quota.ts";
export { administratorRules } from "./controllers/collectivity/rbac.ts";
export { platformObjects, zonePolicy, zonesConfigMap } from "./platform-setup.ts";
export { renderTenant, type TenantConnections } from "./controllers/collectivity/render.ts";
