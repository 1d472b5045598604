export {
  allow,
  CallerVerifier,
  confirmationAudience,
  confirmationType,
  isAdministrator,
  permits,
  roles,
  rolesIn,
  trustingFetch,
  type Caller,
  type CallerRule,
  type ClientCaller,
  type Role,
  type UserCaller,
} from "./callers.ts";
export { baseSettings, loadSettings, type BaseSettings } from "./config.ts";
export {
  ConfigError,
  Conflict,
  Forbidden,
  Gone,
  InvalidRequest,
  NotFound,
  NoReply,
  PayloadTooLarge,
  publicBody,
  ServiceError,
  statusOf,
  TooManyRequests,
  Unauthorized,
  Unavailable,
} from "./errors.ts";
export { BusinessEvents, ensureEventStream, eventStream, eventSubject, parseEventSubject, type BusinessEvent } from "./events.ts";
export { escapeHtml } from "./html.ts";
export { chunkBytes, handedChunk, handedFile, handOver, ObjectFiles, type HandedChunk, type HandedFile, type StoredObject } from "./files.ts";
export { createLogger, type Logger } from "./log.ts";
export { retryDelayMs } from "./retry.ts";
export { Mailer, type MailerOptions, type MailMessage, type MailResult } from "./mail.ts";
export { ServiceMetrics } from "./metrics.ts";
export { Database, isDuplicateKey, racingUpsert, Repository } from "./mongo.ts";
export {
  authorizationHeader,
  collectivityOf,
  endpointsForTenant,
  platformEndpoint,
  tenantEndpoint,
  type EndpointSpec,
  type RequestContext,
  type TenantRequestContext,
} from "./nats.ts";
export { RunningService, runService, serviceMain, type ServiceContext, type ServiceDefinition } from "./service.ts";
export { enableDedicatedTenant, tenantAuthority, tenantEndpoints, TenantRepository, type Tenant, type TenantAuthority } from "./tenants.ts";
export { ArchiveError, readArchive, streamArchive, writeArchive, type ArchivedFile, type ArchiveEntry, type StreamedFile } from "./archive.ts";
export { consumeFlow, ensureWorkQueue, type FlowConsumer } from "./durable.ts";
export { asyncApiDocument, contractBreaches, flowSignal, type EmittedSubject } from "./contracts.ts";
