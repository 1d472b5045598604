import type { ServiceInstanceSpec } from "@mutualis/api";

/** Requests and limits of one pod, by plan. */
export interface PlanResources {
  readonly cpu: string;
  readonly memory: string;
  /** Limits are explicit: the namespace's default limits could be below the plan's requests. */
  readonly cpuLimit: string;
  readonly memoryLimit: string;
}

export interface CatalogueEntry {
  /** What the services image runs for this service (its first argument). */
  readonly command: string;
  readonly port: number;
  readonly tenancies: readonly ("shared" | "dedicated")[];
  readonly plans: Readonly<Record<NonNullable<ServiceInstanceSpec["plan"]>, PlanResources>>;
  /**
   * What a dedicated deployment reaches in the platform services account, `{collectivity}` being
   * the collectivity's name: request/reply services, and streams it receives. The platform
   * exports them for every collectivity; a collectivity's account imports only its own.
   */
  readonly platformImports?: { readonly services: readonly string[]; readonly streams: readonly string[] };
}

const plans = {
  small: { cpu: "100m", memory: "128Mi", cpuLimit: "500m", memoryLimit: "256Mi" },
  standard: { cpu: "250m", memory: "256Mi", cpuLimit: "1", memoryLimit: "512Mi" },
  large: { cpu: "1", memory: "1Gi", cpuLimit: "2", memoryLimit: "2Gi" },
} as const;

const entry = (
  command: string,
  tenancies: CatalogueEntry["tenancies"] = ["shared", "dedicated"],
  platformImports?: CatalogueEntry["platformImports"],
): CatalogueEntry => ({ command, port: 8080, tenancies, plans, ...(platformImports ? { platformImports } : {}) });

/**
 * The catalogue: one image for every service, the service chosen by its first argument. The
 * schema's enum (api/src/schema/service-instance.ts) lists the same names; admission refuses others.
 */
export const catalogue: Readonly<Record<ServiceInstanceSpec["service"], CatalogueEntry>> = {
  // The prefecture's connector: transmissions, cancellations, answers to letters and classification requests out, returns back.
  actes: entry("actes", ["shared", "dedicated"], {
    services: [
      "prefecture.actes.{collectivity}.submit",
      "prefecture.actes.{collectivity}.cancel",
      "prefecture.actes.{collectivity}.reply",
      "prefecture.actes.{collectivity}.classification",
      "prefecture.actes.{collectivity}.archive",
      // Its acknowledged acts, to the publication service.
      "ipl.{collectivity}.file",
      "ipl.{collectivity}.publish",
    ],
    streams: ["prefecture.actes.{collectivity}.returns.>"],
  }),
  helios: entry("helios"),
  parapheur: entry("parapheur"),
  // The flows between a collectivity's services: one shared deployment, as the bus it is.
  flows: entry("flows", ["shared"]),
  marketplace: entry("marketplace"),
  sesf: entry("sesf"),
  ipl: entry("ipl"),
  invoices: entry("invoices"),
  // One identity provider per platform: it federates every collectivity.
  identity: entry("identity", ["shared"]),
};

export const defaultServiceVersion = "0.1.0";

/**
 * What one user of the platform services account may do: the subjects it publishes to (its
 * requests, events and JetStream calls), those it subscribes to (what it serves, its own inbox),
 * and whether it answers requests (one reply each, to the reply subject it was given).
 */
export interface PlatformUserPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  readonly responds: boolean;
}

/** A user's replies come to `_INBOX.<user>.…` (services/kit sets the prefix): no one reads another's. */
export const inboxPrefix = (user: string) => `_INBOX.${user}`;
const inbox = (user: string) => `${inboxPrefix(user)}.>`;
/** The business events stream: every shared deployment makes it if it is the first. */
const eventsStream = ["$JS.API.INFO", "$JS.API.STREAM.INFO.MUTUALIS_EVENTS", "$JS.API.STREAM.CREATE.MUTUALIS_EVENTS"];
/** NATS service discovery of one micro-service (every subject it answers, or it stops). */
const discovery = (name: string) => ["$SRV.PING", "$SRV.INFO", "$SRV.STATS", `$SRV.*.${name}`, `$SRV.*.${name}.*`];
const tenancy = (service: string) => [`platform.${service}.tenants.enable`, `platform.${service}.tenants.disable`];
/** One work-queue stream and its one durable consumer: made, read, acknowledged; never deleted or purged. */
const flow = (stream: string, consumer: string) => [
  `$JS.API.STREAM.INFO.${stream}`,
  `$JS.API.STREAM.CREATE.${stream}`,
  `$JS.API.STREAM.UPDATE.${stream}`,
  `$JS.API.CONSUMER.CREATE.${stream}.${consumer}`,
  `$JS.API.CONSUMER.INFO.${stream}.${consumer}`,
  `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
  `$JS.ACK.${stream}.${consumer}.>`,
];

/**
 * One bucket of JetStream's object store, written in chunks and read back one message at a time:
 * its stream made and read, its chunks and descriptions published; `purge` to discard a failed upload.
 */
const objectStore = (bucket: string, purge = false) => [
  `$O.${bucket}.>`,
  `$JS.API.STREAM.INFO.OBJ_${bucket}`,
  `$JS.API.STREAM.CREATE.OBJ_${bucket}`,
  `$JS.API.STREAM.UPDATE.OBJ_${bucket}`,
  `$JS.API.STREAM.MSG.GET.OBJ_${bucket}`,
  ...(purge ? [`$JS.API.STREAM.PURGE.OBJ_${bucket}`] : []),
];

/**
 * The users of the platform services account, one per shared deployment and one for the operator,
 * each allowed only the subjects it serves and calls (actes' defaults: PREFECTURE_SUBJECT
 * `prefecture.actes`, ACTES_STREAM_PREFIX `ACTES`). No one may publish `platform.>` but the
 * operator, whose calls the services trust on the subject alone; no one may call the JetStream API
 * beyond its own streams (no deleting or purging the events).
 */
export const platformUsers = {
  operator: {
    publish: ["platform.*.tenants.enable", "platform.*.tenants.disable", ...["create", "get", "recipients", "revoke"].map((op) => `tenant.*.sesf.shares.${op}`)],
    subscribe: [inbox("operator")],
    responds: false,
  },
  // Forwards each caller's request to the service it names; the service verifies the caller.
  gateway: { publish: ["tenant.*.*.>", ...eventsStream], subscribe: [inbox("gateway")], responds: false },
  actes: {
    publish: [
      "prefecture.actes.*.submit",
      "prefecture.actes.*.cancel",
      "prefecture.actes.*.reply",
      "prefecture.actes.*.classification",
      "prefecture.actes.*.archive",
      "ipl.*.file",
      "ipl.*.publish",
      "actes.transmit.*",
      "flows.signal.*",
      "events.*.actes.*",
      ...eventsStream,
      ...flow("ACTES_TRANSMISSIONS", "actes"),
      ...flow("ACTES_RETURNS", "actes"),
      ...objectStore("ACTES_FILES", true),
    ],
    subscribe: ["tenant.*.actes.>", "actes.*.flow.submit", ...tenancy("actes"), ...discovery("actes"), inbox("actes")],
    responds: true,
  },
  // Publishes what actes hands it, serves its public pages, and lets administrators withdraw.
  ipl: {
    publish: ["events.*.ipl.*", ...eventsStream, ...objectStore("IPL_FILES")],
    subscribe: ["ipl.*.file", "ipl.*.publish", "tenant.*.ipl.>", ...tenancy("ipl"), ...discovery("ipl"), inbox("ipl")],
    responds: true,
  },
  // Keeps folders' documents and signatures in its object store; verifies its callers itself.
  // Tells the flows when a folder they sent ends (on their stream).
  parapheur: {
    publish: ["events.*.parapheur.*", "flows.signal.*", ...eventsStream, ...objectStore("PARAPHEUR_FILES")],
    subscribe: ["tenant.*.parapheur.>", "parapheur.*.flow.start", "parapheur.*.flow.document", ...tenancy("parapheur"), ...discovery("parapheur"), inbox("parapheur")],
    responds: true,
  },
  // Runs each document's steps from its own durable stream: sends it into its circuit, hands it to the publication.
  flows: {
    publish: [
      "flows.run.*",
      "parapheur.*.flow.start",
      "parapheur.*.flow.document",
      "actes.*.flow.submit",
      "ipl.*.file",
      "ipl.*.publish",
      "events.*.flows.*",
      ...eventsStream,
      ...flow("FLOWS", "flows"),
      ...objectStore("FLOWS_FILES"),
    ],
    subscribe: ["tenant.*.flows.>", ...tenancy("flows"), ...discovery("flows"), inbox("flows")],
    responds: true,
  },
  sesf: { publish: ["events.*.sesf.*", ...eventsStream], subscribe: ["tenant.*.sesf.>", ...tenancy("sesf"), ...discovery("sesf"), inbox("sesf")], responds: true },
  identity: {
    publish: ["events.*.identity.*", ...eventsStream],
    subscribe: ["tenant.*.identity.>", ...tenancy("identity"), ...discovery("identity"), inbox("identity")],
    responds: true,
  },
  // Reads the events with consumers of its own (ordered, named at random), and nothing else.
  observatory: {
    publish: [...eventsStream, "$JS.API.CONSUMER.CREATE.MUTUALIS_EVENTS.>", "$JS.API.CONSUMER.INFO.MUTUALIS_EVENTS.*", "$JS.API.CONSUMER.DELETE.MUTUALIS_EVENTS.*", "$JS.API.CONSUMER.MSG.NEXT.MUTUALIS_EVENTS.*"],
    subscribe: [inbox("observatory")],
    responds: false,
  },
  portal: { publish: [...eventsStream], subscribe: [inbox("portal")], responds: false },
  "prefecture-simulator": {
    publish: ["prefecture.actes.*.returns.*", ...eventsStream, ...objectStore("PREFECTURE_ARCHIVES")],
    subscribe: [
      "prefecture.actes.*.archive",
      "prefecture.actes.*.submit",
      "prefecture.actes.*.cancel",
      "prefecture.actes.*.reply",
      "prefecture.actes.*.classification",
      "prefecture.actes.letter",
      "prefecture.actes.script",
      "prefecture.actes.classification.publish",
      ...discovery("prefecture-simulator"),
      inbox("prefecture-simulator"),
    ],
    responds: true,
  },
} as const satisfies Record<string, PlatformUserPermissions>;

export type PlatformUser = keyof typeof platformUsers;
