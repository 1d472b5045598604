import { describe, expect, it } from "vitest";
import { lotManifests, sharedServiceManifests } from "./lot/lot.ts";
import { local, production } from "./lot/settings.ts";
import { render } from "./render.ts";
import { ServiceDeployment, Tenancy } from "./service.ts";
import { TenantEnvironment } from "./tenant.ts";

const tenant = { name: "rennes", zone: "fr-bzh-1a", displayName: "Ville de Rennes", siren: "213502388", managedBy: "mutualis-operator" };
const quota = {
  cpu: "4",
  memory: "8Gi",
  storage: "100Gi",
  pods: 50,
  serviceInstances: 10,
  containerDefaults: { cpuRequest: "100m", memoryRequest: "128Mi", cpuLimit: "500m", memoryLimit: "512Mi" },
};
const network = { platformNamespace: "mutualis-system", natsPort: 4222, databasePort: 27017 };

// Manifests are plain JSON: reading them as such keeps the assertions short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

describe("TenantEnvironment", () => {
  const objects = render((scope) => new TenantEnvironment(scope, "tenant", { tenant, quota, network, administrators: { users: ["dsi@ville-rennes.example"] } })) as Json[];

  it("when a tenant is rendered, then its objects come in creation order, named without hashes, in its namespace", () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Namespace/coll-rennes",
      "ResourceQuota/tenant-quota",
      "LimitRange/tenant-limits",
      "NetworkPolicy/default-deny",
      "NetworkPolicy/allow-same-namespace",
      "NetworkPolicy/allow-dns",
      "NetworkPolicy/allow-platform-services",
      "NetworkPolicy/allow-from-gateway-and-monitoring",
      "Role/collectivity-admin",
      "RoleBinding/collectivity-admins",
      "Role/collectivity-member",
      "RoleBinding/collectivity-members",
    ]);
    expect(objects.slice(1).every((o) => o.metadata.namespace === "coll-rennes")).toBe(true);
  });

  it("when the namespace is rendered, then it enforces Pod Security restricted and pins pods to the zone", () => {
    const namespace = objects[0]!;
    expect(namespace.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    expect(namespace.metadata.annotations["scheduler.alpha.kubernetes.io/node-selector"]).toBe("topology.kubernetes.io/zone=fr-bzh-1a");
  });

  it("when quantities and ports are rendered, then they are what the API expects (strings and numbers, keys kept)", () => {
    expect(objects[1]!.spec.hard).toMatchObject({ "requests.cpu": "4", pods: "50", "count/serviceinstances.mutualis.fr": "10" });
    const platform = objects.find((o) => o.metadata.name === "allow-platform-services")!;
    expect(platform.spec.egress[0].ports).toEqual([{ protocol: "TCP", port: 4222 }]);
  });

  it("when connections are given, then the credentials Secrets come last", () => {
    const withSecrets = render((scope) => new TenantEnvironment(scope, "t", { tenant, quota, network, administrators: {}, connections: { natsUrl: "nats://n", natsCreds: new Uint8Array([1]), databaseUri: "mongodb://d", database: "coll_rennes" } })) as Json[];
    expect(withSecrets.slice(-2).map((o) => o.metadata.name)).toEqual(["nats-credentials", "database"]);
    expect(Buffer.from(withSecrets.at(-1)!.data.MONGODB_DATABASE, "base64").toString()).toBe("coll_rennes");
  });
});

describe("ServiceDeployment", () => {
  const props = {
    name: "actes",
    namespace: "mutualis-system",
    service: "actes",
    command: "actes",
    tenancy: Tenancy.shared(),
    image: "registry.example/services:1.0.0",
    port: 8080,
    resources: { cpu: "100m", memory: "128Mi", cpuLimit: "500m", memoryLimit: "256Mi" },
    natsSecret: "platform-services-nats",
    env: [{ name: "MONGODB_DATABASE", value: "actes" }],
  };

  it("when one replica is asked for, then there is no PodDisruptionBudget; with two, there is one", () => {
    expect(render((s) => new ServiceDeployment(s, "d", { ...props, replicas: 1 })).map((o) => o.kind)).toEqual(["Deployment", "Service"]);
    expect(render((s) => new ServiceDeployment(s, "d", { ...props, replicas: 2 })).map((o) => o.kind)).toEqual(["Deployment", "Service", "PodDisruptionBudget"]);
  });

  it("when rendered, then its pods meet Pod Security restricted and get no API token unless they need one", () => {
    const [deployment] = render((s) => new ServiceDeployment(s, "d", { ...props, replicas: 1 })) as Json[];
    const pod = deployment!.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    const [gateway] = render((s) => new ServiceDeployment(s, "g", { ...props, replicas: 1, serviceAccount: "gateway" })) as Json[];
    expect(gateway!.spec.template.spec).toMatchObject({ serviceAccountName: "gateway", automountServiceAccountToken: true });
  });

  it("when the tenancy is chosen, then a shared deployment spreads across zones and a dedicated one does not, each labelled as its instance", () => {
    const [shared] = render((s) => new ServiceDeployment(s, "d", { ...props, replicas: 2 })) as Json[];
    expect(shared!.metadata.labels["app.kubernetes.io/instance"]).toBe("shared");
    expect(shared!.spec.template.spec.topologySpreadConstraints).toHaveLength(1);
    const [dedicated] = render((s) => new ServiceDeployment(s, "d", { ...props, replicas: 2, tenancy: Tenancy.dedicated("actes") })) as Json[];
    expect(dedicated!.metadata.labels["app.kubernetes.io/instance"]).toBe("actes");
    expect(dedicated!.spec.template.spec.topologySpreadConstraints).toBeUndefined();
    const [pinned] = render((s) => new ServiceDeployment(s, "d", { ...props, replicas: 2, nodeSelector: { "mutualis.fr/services": "true" } })) as Json[];
    expect(pinned!.spec.template.spec.topologySpreadConstraints).toBeUndefined();
  });
});

describe("the hosting lot", () => {
  it("when production is built, then its three zones are listed with their region, and the zone policy reads that list", () => {
    const objects = lotManifests(production) as Json[];
    const zones = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "hosting-zones")!;
    expect(zones.data).toEqual({ "fr-bzh-1a": "fr-bzh", "fr-bzh-1b": "fr-bzh", "fr-bzh-1c": "fr-bzh" });
    const binding = objects.find((o) => o.kind === "ValidatingAdmissionPolicyBinding")!;
    expect(binding.spec.paramRef).toMatchObject({ name: "hosting-zones", namespace: "mutualis-system", parameterNotFoundAction: "Deny" });
  });

  it("when both profiles are built, then the same objects exist in each apart from the replicas' budgets and the simulator", () => {
    const names = (objects: Json[]) => new Set(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`));
    const inProduction = names(lotManifests(production) as Json[]);
    const inLocal = names(lotManifests(local) as Json[]);
    const onlyProduction = [...inProduction].filter((n) => !inLocal.has(n)).sort();
    const onlyLocal = [...inLocal].filter((n) => !inProduction.has(n)).sort();
    expect(onlyProduction).toEqual([
      "PodDisruptionBudget/mutualis-system/actes",
      "PodDisruptionBudget/mutualis-system/flows",
      "PodDisruptionBudget/mutualis-system/gateway",
      "PodDisruptionBudget/mutualis-system/identity",
      "PodDisruptionBudget/mutualis-system/ipl",
      "PodDisruptionBudget/mutualis-system/nats",
      "PodDisruptionBudget/mutualis-system/observatory",
      "PodDisruptionBudget/mutualis-system/parapheur",
      "PodDisruptionBudget/mutualis-system/portal",
      "PodDisruptionBudget/mutualis-system/sesf",
    ]);
    expect(onlyLocal).toEqual([
      "Deployment/mutualis-system/prefecture-simulator",
      "NetworkPolicy/mutualis-system/allow-prefecture-simulator",
      "Service/mutualis-system/prefecture-simulator",
    ]);
  });

  it("when one shared service is rendered alone, then what it needs comes with it: sesf's storage claim, the gateway's identity, the identity service's keys", () => {
    const kinds = (objects: Json[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds(sharedServiceManifests(local, "sesf") as Json[])).toEqual(["PersistentVolumeClaim/sesf-storage", "Deployment/sesf", "Service/sesf"]);
    const gateway = sharedServiceManifests(local, "gateway") as Json[];
    // The gateway forwards its callers' tokens to the API server: no right of its own, no impersonation.
    expect(kinds(gateway)).toEqual(["ServiceAccount/gateway", "Deployment/gateway", "Service/gateway"]);
    const env = (objects: Json[]) => objects.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    // Every service verifies its callers with the platform's issuer; locally its CA is the platform's own.
    const value = (objects: Json[], name: string) => objects.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === name);
    expect(value(gateway, "IDENTITY_ISSUER").value).toBe("http://127.0.0.1/identite");
    expect(value(gateway, "IDENTITY_CA").valueFrom.secretKeyRef).toEqual({ name: "identity-ca", key: "ca.crt" });
    expect(value(sharedServiceManifests(production, "sesf") as Json[], "IDENTITY_ISSUER").value).toBe("https://services.mutualis.bzh/identite");
    expect(env(sharedServiceManifests(production, "gateway") as Json[])).not.toContain("IDENTITY_CA");
    // The identity's keys and clients are the platform's Secrets; locally it terminates TLS itself, probed over HTTPS.
    const identity = sharedServiceManifests(local, "identity") as Json[];
    const pod = identity.find((o) => o.kind === "Deployment")!.spec.template.spec;
    expect(pod.volumes.map((v: { secret?: { secretName: string } }) => v.secret?.secretName)).toEqual(expect.arrayContaining(["identity-keys", "identity-clients", "identity-tls", "identity-seed"]));
    // Probed on the internal port, in plain HTTP, though the service itself terminates TLS.
    expect(pod.containers[0].readinessProbe.httpGet).toEqual({ path: "/readyz", port: "internal" });
    const productionIdentity = (sharedServiceManifests(production, "identity") as Json[]).find((o) => o.kind === "Deployment")!.spec.template.spec;
    expect(productionIdentity.volumes.map((v: { secret?: { secretName: string } }) => v.secret?.secretName).filter(Boolean)).toEqual(["nats-identity", "identity-keys", "identity-clients"]);
    expect(productionIdentity.containers[0].readinessProbe.httpGet.scheme).toBeUndefined();
    expect(() => sharedServiceManifests(production, "prefecture-simulator")).toThrow("the production lot has no shared service prefecture-simulator");
    // Their streams get a copy on each NATS node.
    const replicas = (settings: typeof production) =>
      (sharedServiceManifests(settings, "actes") as Json[]).find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "NATS_STREAM_REPLICAS").value;
    expect([replicas(production), replicas(local)]).toEqual(["3", "1"]);
  });
});

describe("the platform database", () => {
  it("when the lot is built, then FerretDB listens on TLS only, PostgreSQL's superuser is its own, and the role script runs at its first start", () => {
    const objects = lotManifests(production) as Json[];
    const ferretdb = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "ferretdb")!;
    const env = Object.fromEntries((ferretdb.spec.template.spec.containers[0].env as Json[]).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({ FERRETDB_HANDLER: "pg", FERRETDB_LISTEN_ADDR: "", FERRETDB_LISTEN_TLS: ":27017", FERRETDB_LOG_LEVEL: "warn" });
    const postgresql = objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === "postgresql")!;
    const pgEnv = Object.fromEntries((postgresql.spec.template.spec.containers[0].env as Json[]).map((e) => [e.name, e.value ?? e.valueFrom.secretKeyRef.key]));
    expect(pgEnv).toMatchObject({ POSTGRES_USER: "postgres", MUTUALIS_FERRETDB_PASSWORD: "ferretdb-password", MUTUALIS_ADMIN_PASSWORD: "admin-password" });
    const init = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "postgresql-init")!;
    expect(init.data["mutualis-roles.psql"]).toContain("ALTER ROLE mutualis_ferretdb LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'ferretdb_password';");
    expect(init.data["mutualis-roles.psql"]).toContain("REVOKE ALL ON DATABASE mutualis FROM PUBLIC;");
    const storage = objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "allow-database-storage")!;
    expect(JSON.stringify(storage.spec.ingress)).toContain('"mutualis.fr/platform-component":"operator"');
  });

  it("when a shared service is rendered, then its database address comes from its own role's Secret", () => {
    const objects = sharedServiceManifests(production, "actes") as Json[];
    const deployment = objects.find((o) => o.kind === "Deployment")!;
    const env = deployment.spec.template.spec.containers[0].env as Json[];
    expect(env.find((e) => e.name === "MONGODB_URI")!.valueFrom.secretKeyRef).toEqual({ name: "database-actes", key: "MONGODB_URI" });
    expect(env.find((e) => e.name === "MONGODB_DATABASE")!.value).toBe("actes");
  });
});
