/** Names shared by the operator's controllers: labels, annotations, finalizers, conditions. */
import { databaseRoles, annotations as sharedAnnotations, labels as sharedLabels } from "@mutualis/cdk8s";

export const fieldManager = "mutualis-operator";
export const operatorName = "mutualis-operator";

// Names every renderer shares live with the constructs; the operator's own follow.
export { labels, namespacePrefix, tenantNamespace, zoneLabel } from "@mutualis/cdk8s";

/**
 * How the controllers cache the tenants' children: only the objects the operator labels (never
 * other tenants' or users' secrets), and only their metadata (never a secret's content, and a
 * few hundred bytes per object: the applier compares hashes, not whole objects).
 */
export const childCache = { labelSelector: sharedLabels.collectivity, metadataOnly: true } as const;

export const annotations = {
  /** Replicas a workload had before its tenant was suspended, restored on resume. */
  replicasBeforeSuspension: "mutualis.fr/replicas-before-suspension",
  /** Read by the PodNodeSelector admission plugin: every pod of the namespace is pinned to the zone. */
  namespaceNodeSelector: sharedAnnotations.namespaceNodeSelector,
  /**
   * On a Collectivity: a new value asks for new database credentials. The tenant's role gets a
   * new password, its sessions are ended, and its `database` Secret is written again.
   */
  rotateDatabaseCredentials: "mutualis.fr/rotate-database-credentials",
} as const;

export const finalizers = {
  /** Held while data outside the cluster (database, NATS account and streams) awaits its deletion policy. */
  tenantCleanup: "mutualis.fr/tenant-cleanup",
  /** Held while a shared deployment has the collectivity enabled, so it can be told to stop. */
  serviceInstance: "mutualis.fr/service-instance",
  /** Held until the share is revoked and its content purged in the exchange. */
  secureShare: "mutualis.fr/secure-share",
} as const;

export const conditionTypes = {
  ready: "Ready",
  namespaceReady: "NamespaceReady",
  quotaApplied: "QuotaApplied",
  networkIsolated: "NetworkIsolated",
  accessConfigured: "AccessConfigured",
  messagingReady: "MessagingReady",
  databaseReady: "DatabaseReady",
} as const;

export const reasons = {
  ready: "Ready",
  progressing: "Progressing",
  applied: "Applied",
  failed: "Failed",
  suspended: "Suspended",
  quotaInvalid: "QuotaInvalid",
  unknownZone: "UnknownZone",
  sirenInUse: "SirenInUse",
  messagingUnavailable: "MessagingUnavailable",
  databaseUnavailable: "DatabaseUnavailable",
  deleting: "Deleting",
  /** A reconcile failed before it could say why in a step's terms; it is retried. */
  reconcileFailed: "ReconcileFailed",
  // ServiceInstance
  duplicateService: "DuplicateService",
  noCollectivity: "NoCollectivity",
  tenancyNotSupported: "TenancyNotSupported",
  collectivityNotReady: "CollectivityNotReady",
  invalidSettings: "InvalidSettings",
  sharedServiceUnavailable: "SharedServiceUnavailable",
  quotaExceeded: "QuotaExceeded",
  podsRejected: "PodsRejected",
  imageMissing: "ImageMissing",
  crashLooping: "CrashLooping",
  scaledToZero: "ScaledToZero",
  disableFailed: "DisableFailed",
  // SecureShare
  passwordSecretRefused: "PasswordSecretRefused",
  passwordMissing: "PasswordMissing",
  rejected: "Rejected",
  linksLost: "LinksLost",
  exchangeUnavailable: "ExchangeUnavailable",
  revoked: "Revoked",
  expired: "Expired",
  downloadLimitReached: "DownloadLimitReached",
} as const;


/**
 * The PostgreSQL role that reads the catalog of every database (FerretDB's metadata cache needs
 * it), granted to every role the operator makes; it reads no document.
 */
export const databaseCatalogRole = databaseRoles.catalog;

/** MongoDB database names may not contain '-': coll_<name> with '_' instead. */
export function tenantDatabase(collectivity: string): string {
  return `coll_${collectivity.replace(/-/g, "_")}`;
}

/** Every NATS subject of a tenant starts with this. */
export function tenantSubjectPrefix(collectivity: string): string {
  return `tenant.${collectivity}`;
}

/**
 * How the operator's process is run, the same wherever it runs (the chart's Deployment, the local
 * platform, the benchmarks), so what is measured is what ships. Measured at 1,500 Collectivities
 * (docs/operator.md, "Memory"):
 * - `--max-old-space-size`: without it V8 sizes the heap from the machine's memory and lets the
 *   old generation grow to four times what survived the last full collection before the next;
 *   a limit below the container's (512 Mi) brings that factor to about 1.4.
 * - `--max-semi-space-size=4`: the young generation's two halves at 4 MiB rather than 16; most
 *   of what the operator allocates (JSON answers, watch events) dies young either way.
 * - glibc's malloc, which holds the buffers sockets are read into: a fixed threshold above which
 *   blocks are mapped (and given back when freed) and free memory at the top given back sooner,
 *   rather than a main arena that only grows; two arenas, not sixteen, for the worker threads.
 */
export const operatorProcessEnv: Readonly<Record<string, string>> = {
  NODE_OPTIONS: "--max-old-space-size=384 --max-semi-space-size=4",
  GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072",
  MALLOC_ARENA_MAX: "2",
};
