import { rmSync } from "node:fs";
import { App, Chart } from "cdk8s";
import * as k8s from "../kube.ts";
import type { Construct } from "constructs";
import { operatorAlerts, platformAlerts } from "../monitoring.ts";
import { labels } from "../names.ts";
import { Antivirus, ComponentNetworkPolicy, Database, HostingZones, NatsCluster, PlatformNamespace, Prometheus, type Reach } from "../platform.ts";
import { render, type Manifest } from "../render.ts";
import { internalPort, ServiceDeployment, Tenancy, type ServiceDeploymentProps, type ServiceVolume } from "../service.ts";
import type { LotSettings } from "./settings.ts";

/** Secrets the lot refers to and never holds: the platform's operators provide them (sealed, or from a vault). */
export const externalSecrets = {
  /** auth.conf: the NATS operator's JWT, the system account, the account resolver. */
  natsAuth: "nats-auth",
  /**
   * PostgreSQL's passwords: `password` (its superuser's), `ferretdb-password` and `admin-password`
   * (the roles of databaseRoles), and `url`, FerretDB's connection as `mutualis_ferretdb` to the
   * database `mutualis`.
   */
  postgresql: "postgresql",
  /** tls.crt and tls.key: FerretDB's serving certificate; it listens on TLS only. */
  databaseTls: "database-tls",
  /** master.key: the secure file exchange's master key (32 bytes, base64). */
  sesfMasterKey: "sesf-master-key",
  /** master.key: the parapheur's master key (32 bytes, base64), from which each collectivity's key sealing its signing keys is derived. */
  parapheurMasterKey: "parapheur-master-key",
  /** keys.json: the identity service's signing keys (JWKS with private parts) and cookie keys. */
  identityKeys: "identity-keys",
  /** clients.json: the identity service's relying parties, with the confidential ones' secrets. */
  identityClients: "identity-clients",
  /** client-secret: the portal's secret at the identity service (the same as in identity-clients). */
  portalClient: "portal-client",
} as const;

/**
 * The database of each shared service. Each is owned by a PostgreSQL role of the service's own,
 * which the Mutualis operator makes and writes to the Secret `database-<service>` of the platform
 * namespace (MONGODB_URI with the role's name and password, MONGODB_CA when the CA is private).
 */
export const sharedServiceDatabases = {
  identity: "identity",
  actes: "actes",
  "prefecture-simulator": "prefecture",
  sesf: "sesf",
  portal: "portal",
  observatory: "observatory",
  gateway: "gateway",
  ipl: "ipl",
  parapheur: "parapheur",
  flows: "flows",
} as const;

export type SharedServiceName = keyof typeof sharedServiceDatabases;

/**
 * The Secret holding a shared service's NATS creds (`user.creds`), written by the operator: a
 * user of the platform services account of its own, allowed only the subjects it serves and calls.
 */
export const serviceNatsSecret = (service: string) => `nats-${service}`;

/** The Secret holding a shared service's database address, written by the operator. */
export const serviceDatabaseSecret = (service: string) => `database-${service}`;

/** A shared deployment of the platform: who reaches it, and what it needs beyond the common settings. */
interface SharedService {
  readonly service: SharedServiceName;
  /** Reached from outside (through the ingress controller). */
  readonly public?: boolean;
  readonly env?: readonly k8s.EnvVar[];
  readonly volumes?: readonly ServiceVolume[];
  readonly serviceAccount?: string;
  readonly egress?: readonly { readonly to: readonly Reach[]; readonly ports: readonly number[] }[];
  readonly apiServer?: boolean;
  /** Objects the deployment needs beside it (its storage, its identity), rendered with it. */
  readonly supporting?: (scope: Construct) => void;
}

const servicePort = 8080;

/** The platform's OpenID Connect issuer: byte for byte what its tokens and discovery say. */
export function issuerOf(settings: LotSettings): string {
  return settings.publicUrls?.identity ?? `${settings.publicUrl}/identite`;
}

function sharedServices(settings: LotSettings): SharedService[] {
  const platform = settings.platformNamespace;
  const identityDir = "/var/run/mutualis/identity";
  return [
    {
      service: "identity",
      public: true,
      env: [
        { name: "IDENTITY_PUBLIC_ISSUER", value: issuerOf(settings) },
        { name: "IDENTITY_KEYS_FILE", value: `${identityDir}/keys/keys.json` },
        { name: "IDENTITY_CLIENTS_FILE", value: `${identityDir}/clients/clients.json` },
        ...(settings.identityTls
          ? [
              { name: "HTTP_TLS_CERT_FILE", value: `${identityDir}/tls/tls.crt` },
              { name: "HTTP_TLS_KEY_FILE", value: `${identityDir}/tls/tls.key` },
            ]
          : []),
        ...(settings.identitySeed ? [{ name: "IDENTITY_SEED_FILE", value: `${identityDir}/seed/seed.json` }] : []),
        ...(settings.proconnect
          ? [
              { name: "IDENTITY_PROCONNECT_ISSUER", value: settings.proconnect.issuer },
              { name: "IDENTITY_PROCONNECT_CLIENT_ID", value: settings.proconnect.clientId },
              { name: "IDENTITY_PROCONNECT_CLIENT_SECRET_FILE", value: `${identityDir}/proconnect/client-secret` },
              ...(settings.identityCa ? [{ name: "IDENTITY_PROCONNECT_CA_FILE", value: `${identityDir}/ca/ca.crt` }] : []),
            ]
          : []),
      ],
      volumes: [
        { name: "keys", path: `${identityDir}/keys`, secret: externalSecrets.identityKeys },
        { name: "clients", path: `${identityDir}/clients`, secret: externalSecrets.identityClients },
        ...(settings.identityTls ? [{ name: "tls", path: `${identityDir}/tls`, secret: settings.identityTls }] : []),
        ...(settings.identitySeed ? [{ name: "seed", path: `${identityDir}/seed`, secret: settings.identitySeed }] : []),
        ...(settings.proconnect ? [{ name: "proconnect", path: `${identityDir}/proconnect`, secret: settings.proconnect.secret }] : []),
        ...(settings.proconnect && settings.identityCa ? [{ name: "ca", path: `${identityDir}/ca`, secret: settings.identityCa }] : []),
      ],
    },
    // Every acknowledged act goes to the publication service.
    { service: "actes", env: [{ name: "ACTES_PUBLISH", value: "true" }] },
    ...(settings.prefectureSimulator ? [{ service: "prefecture-simulator" as const }] : []),
    {
      service: "sesf",
      public: true,
      env: [
        { name: "SESF_STORAGE_DIR", value: "/var/lib/sesf" },
        { name: "SESF_MASTER_KEY_FILE", value: "/var/run/mutualis/sesf/master.key" },
        { name: "SESF_PUBLIC_URL", value: settings.publicUrls?.sesf ?? `${settings.publicUrl}/echanges` },
        { name: "SESF_CLAMD_ADDRESS", value: settings.endpoints?.antivirus ?? `clamav.${platform}.svc:3310` },
      ],
      volumes: [
        { name: "storage", path: "/var/lib/sesf", claim: "sesf-storage" },
        { name: "master-key", path: "/var/run/mutualis/sesf", secret: externalSecrets.sesfMasterKey },
      ],
      egress: [{ to: [{ namespace: platform, component: "antivirus" }], ports: [3310] }],
      supporting: (scope) =>
        new k8s.KubePersistentVolumeClaim(scope, "sesf-storage", {
          metadata: { name: "sesf-storage", namespace: platform },
          // Every replica reads and writes the same files.
          spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: settings.sesfStorage } } },
        }),
    },
    {
      // Where people work: it signs them in with the identity service and calls the gateway with their token.
      service: "portal",
      public: true,
      env: [
        { name: "PORTAL_PUBLIC_URL", value: settings.publicUrls?.portal ?? `${settings.publicUrl}/portail` },
        { name: "PORTAL_GATEWAY_URL", value: settings.publicUrls?.gateway ?? `${settings.publicUrl}/api` },
        { name: "PORTAL_CLIENT_SECRET_FILE", value: "/var/run/mutualis/portal/client-secret" },
      ],
      volumes: [{ name: "client", path: "/var/run/mutualis/portal", secret: externalSecrets.portalClient }],
    },
    {
      // Signature circuits: its callers come through the gateway; its keys are sealed under its master key.
      service: "parapheur",
      env: [{ name: "PARAPHEUR_MASTER_KEY_FILE", value: "/var/run/mutualis/parapheur/master.key" }],
      volumes: [{ name: "master-key", path: "/var/run/mutualis/parapheur", secret: externalSecrets.parapheurMasterKey }],
    },
    // The bus between the services: each document's steps on its durable stream.
    { service: "flows" },
    {
      // The acts published: public pages, feeds and open data, for everyone.
      service: "ipl",
      public: true,
      env: [{ name: "IPL_PUBLIC_URL", value: settings.publicUrls?.ipl ?? `${settings.publicUrl}/actes` }],
    },
    {
      service: "observatory",
      public: true,
      env: [{ name: "OBSERVATORY_PROMETHEUS_URL", value: settings.endpoints?.prometheus ?? `http://prometheus.${settings.monitoringNamespace}.svc:9090` }],
      egress: [{ to: [{ namespace: settings.monitoringNamespace, component: "prometheus" }], ports: [9090] }],
    },
    {
      service: "gateway",
      public: true,
      serviceAccount: "gateway",
      env: [{ name: "GATEWAY_PUBLIC_URL", value: settings.publicUrls?.gateway ?? `${settings.publicUrl}/api` }],
      apiServer: true,
      // Its ServiceAccount has no right at all: it brings the API server's CA, and the gateway
      // forwards each caller's own token, which the API server verifies and RBAC judges.
      supporting: (scope) => new k8s.KubeServiceAccount(scope, "gateway-account", { metadata: { name: "gateway", namespace: platform } }),
    },
  ];
}

/** A shared service's deployment: the services image running it, reaching NATS and the database. */
function sharedDeployment(settings: LotSettings, shared: SharedService): ServiceDeploymentProps {
  const platform = settings.platformNamespace;
  return {
    name: shared.service,
    namespace: platform,
    service: shared.service,
    command: shared.service,
    tenancy: Tenancy.shared(),
    image: settings.images.services,
    port: servicePort,
    replicas: settings.serviceReplicas,
    resources: settings.resources.medium,
    natsSecret: serviceNatsSecret(shared.service),
    natsUrl: settings.endpoints?.nats ?? `nats://nats.${platform}.svc:${settings.nats.port}`,
    env: [
      // Its own role, on its own database only.
      { name: "MONGODB_URI", valueFrom: { secretKeyRef: { name: serviceDatabaseSecret(shared.service), key: "MONGODB_URI" } } },
      { name: "MONGODB_DATABASE", value: sharedServiceDatabases[shared.service] },
      { name: "MONGODB_CA", valueFrom: { secretKeyRef: { name: serviceDatabaseSecret(shared.service), key: "MONGODB_CA", optional: true } } },
      // Their streams (actes' flows, the business events) have a copy on each NATS node.
      { name: "NATS_STREAM_REPLICAS", value: String(settings.nats.replicas) },
      // Every service verifies its callers' tokens itself, with the platform's issuer.
      { name: "IDENTITY_ISSUER", value: issuerOf(settings) },
      ...(settings.identityCa ? [{ name: "IDENTITY_CA", valueFrom: { secretKeyRef: { name: settings.identityCa, key: "ca.crt" } } }] : []),
      ...(settings.endpoints?.smtp ? [{ name: "SMTP_URL", value: settings.endpoints.smtp }] : []),
      ...(shared.env ?? []),
    ],
    volumes: shared.volumes,
    serviceAccount: shared.serviceAccount,
    labels: { [labels.platformComponent]: shared.service },
    nodeSelector: settings.servicesNodeSelector,
  };
}

/**
 * One shared service's objects (what it needs beside it, then its Deployment, Service and PDB), as
 * the lot renders them: the local platform applies them one service at a time.
 */
export function sharedServiceManifests(settings: LotSettings, service: string): Manifest[] {
  const shared = sharedServices(settings).find((s) => s.service === service);
  if (!shared) throw new Error(`the ${settings.name} lot has no shared service ${service}`);
  return render((scope) => {
    shared.supporting?.(scope);
    new ServiceDeployment(scope, service, sharedDeployment(settings, shared));
  });
}

/**
 * The hosting lot, one chart per layer (files 00-… to 60-…, applied in that order): namespaces,
 * hosting zones, messaging, database, monitoring, shared services, network policies.
 */
export function buildLot(app: App, settings: LotSettings): Chart[] {
  const platform = settings.platformNamespace;
  const monitoring = settings.monitoringNamespace;
  const chart = (id: string) => new Chart(app, id, { disableResourceNameHashes: true, labels: { [labels.partOf]: "mutualis", "mutualis.fr/lot": settings.name } });
  const charts: Chart[] = [];
  const layer = (id: string, build: (scope: Construct) => void) => {
    const c = chart(id);
    build(c);
    charts.push(c);
  };
  const { resources } = settings;
  const services = sharedServices(settings);

  layer("00-namespaces", (scope) => {
    new PlatformNamespace(scope, "platform", { name: platform });
    new PlatformNamespace(scope, "monitoring", { name: monitoring });
  });
  layer("10-zones", (scope) => new HostingZones(scope, "zones", { namespace: platform, zones: settings.zones }));
  layer("20-messaging", (scope) =>
    new NatsCluster(scope, "nats", {
      namespace: platform,
      image: settings.images.nats,
      replicas: settings.nats.replicas,
      jetstreamStorage: settings.nats.storage,
      resources: resources.medium,
      authSecret: externalSecrets.natsAuth,
      clientPort: settings.nats.port,
    }),
  );
  layer("30-database", (scope) =>
    new Database(scope, "database", {
      namespace: platform,
      ferretdbImage: settings.images.ferretdb,
      port: settings.database.port,
      resources: resources.medium,
      storage: settings.database.storage,
      replicas: settings.database.replicas,
      postgresqlSecret: externalSecrets.postgresql,
      tlsSecret: externalSecrets.databaseTls,
      postgresImage: settings.images.postgresql,
    }),
  );
  layer("40-monitoring", (scope) =>
    new Prometheus(scope, "prometheus", {
      namespace: monitoring,
      image: settings.images.prometheus,
      replicas: settings.prometheus.replicas,
      retention: settings.prometheus.retention,
      storage: settings.prometheus.storage,
      resources: resources.large,
      ruleGroups: [operatorAlerts({ ...settings.alerts, namespace: platform }), platformAlerts()],
    }),
  );
  layer("50-services", (scope) => {
    new Antivirus(scope, "antivirus", { namespace: platform, image: settings.images.clamav, resources: resources.medium });
    for (const shared of services) {
      shared.supporting?.(scope);
      new ServiceDeployment(scope, shared.service, sharedDeployment(settings, shared));
    }
  });
  layer("60-network", (scope) => {
    const tenants: Reach = { namespace: "", namespacesLabelled: labels.collectivity };
    const prometheus: Reach = { namespace: monitoring, component: "prometheus" };
    const operator: Reach = { namespace: platform, component: "operator" };
    const sharedPods = services.map((s): Reach => ({ namespace: platform, component: s.service }));
    const allow = (component: string, rules: Omit<ConstructorParameters<typeof ComponentNetworkPolicy>[2], "namespace" | "component">, namespace = platform) =>
      new ComponentNetworkPolicy(scope, component, { namespace, component, ...rules });
    allow("nats", {
      ingress: [
        { from: [tenants, operator, ...sharedPods], ports: [settings.nats.port] },
        { from: [{ namespace: platform, component: "nats" }], ports: [6222] },
        { from: [prometheus], ports: [8222] },
      ],
      egress: [{ to: [{ namespace: platform, component: "nats" }], ports: [6222] }],
    });
    allow("database", {
      ingress: [
        { from: [tenants, operator, ...sharedPods], ports: [settings.database.port] },
        { from: [prometheus], ports: [8088] },
      ],
      egress: [{ to: [{ namespace: platform, component: "database-storage" }], ports: [5432] }],
    });
    // FerretDB, and the operator, which makes the roles there.
    allow("database-storage", { ingress: [{ from: [{ namespace: platform, component: "database" }, operator], ports: [5432] }] });
    allow("antivirus", { ingress: [{ from: [{ namespace: platform, component: "sesf" }], ports: [3310] }] });
    allow("operator", {
      ingress: [{ from: [prometheus], ports: [8080] }],
      egress: [
        { to: [{ namespace: platform, component: "nats" }], ports: [settings.nats.port] },
        { to: [{ namespace: platform, component: "database" }], ports: [settings.database.port] },
        { to: [{ namespace: platform, component: "database-storage" }], ports: [5432] },
        // Its own token (client credentials), from the platform's issuer behind the ingress.
        { to: [{ namespace: settings.ingressNamespace }], ports: [443] },
      ],
      apiServerPort: settings.apiServerPort,
    });
    for (const shared of services) {
      allow(shared.service, {
        ingress: [
          { from: [prometheus], ports: [internalPort] },
          ...(shared.public ? [{ from: [{ namespace: settings.ingressNamespace }], ports: [servicePort] }] : []),
        ],
        egress: [
          { to: [{ namespace: platform, component: "nats" }], ports: [settings.nats.port] },
          { to: [{ namespace: platform, component: "database" }], ports: [settings.database.port] },
          // The platform's issuer (discovery and keys), at its public address behind the ingress.
          { to: [{ namespace: settings.ingressNamespace }], ports: [443] },
          ...(shared.egress ?? []),
        ],
        apiServerPort: shared.apiServer ? settings.apiServerPort : undefined,
      });
    }
    allow(
      "prometheus",
      {
        ingress: [{ from: [{ namespace: platform, component: "observatory" }], ports: [9090] }],
        // Every pod announcing its metrics, wherever it is: services, tenants' dedicated pods, NATS, FerretDB.
        egress: [{ to: [{ namespace: "", namespacesLabelled: "kubernetes.io/metadata.name" }], ports: [servicePort, 8088, 8222] }],
        apiServerPort: settings.apiServerPort,
      },
      monitoring,
    );
  });
  return charts;
}

/** Writes the lot's manifests under `outdir` (emptied first), one file per layer; says how many objects. */
export function synthesizeLot(settings: LotSettings, outdir: string): { objects: number; layers: number } {
  rmSync(outdir, { recursive: true, force: true });
  const app = new App({ outdir });
  const charts = buildLot(app, settings);
  app.synth();
  return { objects: charts.reduce((sum, chart) => sum + chart.toJson().length, 0), layers: charts.length };
}

/** The lot's objects, in apply order, without writing anything (tests, the local platform). */
export function lotManifests(settings: LotSettings): Manifest[] {
  const app = new App();
  return buildLot(app, settings).flatMap((c) => c.toJson() as Manifest[]);
}
