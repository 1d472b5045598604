export * from "./names.ts";
export * from "./render.ts";
export * from "./tenant.ts";
export * from "./service.ts";
export * from "./monitoring.ts";
export * from "./platform.ts";
export { buildLot, externalSecrets, lotManifests, serviceDatabaseSecret, serviceNatsSecret, sharedServiceDatabases, sharedServiceManifests, synthesizeLot, type SharedServiceName } from "./lot/lot.ts";
export { local as localLot, production as productionLot, profiles as lotProfiles, type LotSettings } from "./lot/settings.ts";
export { databaseBootstrapSql, databaseRoles } from "./database-roles.ts";
