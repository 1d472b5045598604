import type { HostingZone } from "../platform.ts";
import type { PodResources } from "../service.ts";

/**
 * What differs between the sovereign cloud's production lot and the local platform: sizes,
 * replicas, storage backends and images. Everything else — which objects, their security and
 * their networking — is the same code.
 */
export interface LotSettings {
  readonly name: string;
  readonly zones: readonly HostingZone[];
  readonly platformNamespace: string;
  readonly monitoringNamespace: string;
  /** Where the ingress controller runs: the only way in to the public services. */
  readonly ingressNamespace: string;
  readonly apiServerPort: number;
  readonly publicUrl: string;
  readonly images: {
    readonly services: string;
    readonly nats: string;
    readonly ferretdb: string;
    readonly postgresql: string;
    readonly prometheus: string;
    readonly clamav: string;
  };
  readonly nats: { readonly replicas: number; readonly storage: string; readonly port: number };
  /** FerretDB on PostgreSQL: `replicas` of FerretDB (stateless), one PostgreSQL on `storage`. */
  readonly database: { readonly replicas: number; readonly storage: string; readonly port: number };
  readonly prometheus: { readonly replicas: number; readonly retention: string; readonly storage: string };
  /** Replicas of each shared service deployment. */
  readonly serviceReplicas: number;
  readonly sesfStorage: string;
  /** The prefecture simulator stands in for @CTES outside production. */
  readonly prefectureSimulator: boolean;
  readonly alerts: { readonly tenantNotReadyMinutes: number; readonly workQueueBacklog: number };
  /**
   * Where the shared services find what the lot does not run itself (the local platform runs NATS,
   * FerretDB, Prometheus and ClamAV as processes); the lot's own Services otherwise.
   */
  readonly endpoints?: {
    readonly nats?: string;
    readonly database?: string;
    readonly prometheus?: string;
    readonly antivirus?: string;
    /** The relay the services send e-mail through (the local mail catcher); none: they send nothing. */
    readonly smtp?: string;
  };
  /** Where the shared services' pods run (the local node that really runs pods); anywhere otherwise. */
  readonly servicesNodeSelector?: Readonly<Record<string, string>>;
  /**
   * Where the identity service itself terminates TLS (a Secret with `tls.crt` and `tls.key`), as on
   * the local platform, whose ingress passes connections through; the ingress does otherwise.
   */
  readonly identityTls?: string;
  /** A Secret (`seed.json`) of people made at the identity's start: the local platform's demo people. */
  readonly identitySeed?: string;
  /** A Secret (`ca.crt`) of the CA the issuer's certificate comes from, when it is the platform's own. */
  readonly identityCa?: string;
  /**
   * ProConnect, which the identity is a service provider of: its issuer, and the Secret holding the
   * platform's client secret there (`client-secret`); locally, the simulator beside the platform.
   */
  readonly proconnect?: { readonly issuer: string; readonly clientId: string; readonly secret: string };
  /** The public address of a service, when it is not `publicUrl` with a path (the local platform's ports). */
  readonly publicUrls?: Readonly<Record<string, string>>;
  readonly resources: { readonly small: PodResources; readonly medium: PodResources; readonly large: PodResources };
}

const version = "0.1.0";

// The upstream images match the versions the project builds its local programs from (tools/*/go.mod).
const images = {
  services: `registry.mutualis.invalid/mutualis/services:${version}`,
  nats: "docker.io/library/nats:2.14.9-alpine",
  ferretdb: "ghcr.io/ferretdb/ferretdb:1.24.2",
  postgresql: "docker.io/library/postgres:17.6-bookworm",
  prometheus: "quay.io/prometheus/prometheus:v3.16.0",
  clamav: "docker.io/clamav/clamav:1.4",
};

const resources = {
  small: { cpu: "100m", memory: "128Mi", cpuLimit: "500m", memoryLimit: "256Mi" },
  medium: { cpu: "500m", memory: "512Mi", cpuLimit: "2", memoryLimit: "2Gi" },
  large: { cpu: "2", memory: "4Gi", cpuLimit: "4", memoryLimit: "8Gi" },
};

/** The production lot: Brittany's region, three zones, every stateful part replicated across them. */
export const production: LotSettings = {
  name: "production",
  zones: [
    { name: "fr-bzh-1a", region: "fr-bzh" },
    { name: "fr-bzh-1b", region: "fr-bzh" },
    { name: "fr-bzh-1c", region: "fr-bzh" },
  ],
  platformNamespace: "mutualis-system",
  monitoringNamespace: "mutualis-monitoring",
  ingressNamespace: "ingress-nginx",
  apiServerPort: 6443,
  publicUrl: "https://services.mutualis.bzh",
  images,
  nats: { replicas: 3, storage: "50Gi", port: 4222 },
  database: { replicas: 2, storage: "200Gi", port: 27017 },
  prometheus: { replicas: 2, retention: "90d", storage: "100Gi" },
  serviceReplicas: 2,
  sesfStorage: "2Ti",
  prefectureSimulator: false,
  alerts: { tenantNotReadyMinutes: 15, workQueueBacklog: 100 },
  resources,
};

/** The local lot: one node of each, the prefecture simulator; the same objects otherwise. */
export const local: LotSettings = {
  ...production,
  name: "local",
  zones: [
    { name: "fr-bzh-1a", region: "fr-bzh" },
    { name: "fr-bzh-1b", region: "fr-bzh" },
  ],
  publicUrl: "http://127.0.0.1",
  nats: { replicas: 1, storage: "1Gi", port: 4222 },
  database: { replicas: 1, storage: "1Gi", port: 27017 },
  prometheus: { replicas: 1, retention: "15d", storage: "2Gi" },
  serviceReplicas: 1,
  sesfStorage: "10Gi",
  prefectureSimulator: true,
  identityTls: "identity-tls",
  identitySeed: "identity-seed",
  identityCa: "identity-ca",
};

export const profiles: Readonly<Record<string, LotSettings>> = { production, local };
