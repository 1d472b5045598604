import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { externalSecrets, localLot, sharedServiceManifests, type LotSettings } from "@mutualis/cdk8s";
import { Kubectl } from "./cluster.ts";
import type { PlatformConfig } from "./config.ts";
import { localIdentitySecrets, proconnectClientId } from "./identity.ts";
import { layout, type Layout } from "./layout.ts";

type Manifest = Record<string, unknown>;

interface Claim {
  metadata: { name: string; namespace: string };
  spec: { accessModes: string[]; resources: { requests: { storage: string } } };
}

/**
 * The PersistentVolume the platform provides for one of the lot's claims: a directory of the
 * machine, on the node that really runs pods, kept when the claim's pods come and go (Retain).
 * Bound ahead to that claim only, so no other claim can take it.
 */
export function localVolume(claimManifest: Manifest, directory: string, node: string): Manifest {
  const claim = claimManifest as unknown as Claim;
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: `local-${claim.metadata.namespace}-${claim.metadata.name}`, labels: { "app.kubernetes.io/part-of": "mutualis-local" } },
    spec: {
      capacity: { storage: claim.spec.resources.requests.storage },
      accessModes: claim.spec.accessModes,
      volumeMode: "Filesystem",
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: "",
      claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: claim.metadata.namespace, name: claim.metadata.name },
      local: { path: directory },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }] }] } },
    },
  };
}

/** A Secret of string values, as `kubectl apply` takes it. */
export function secretManifest(namespace: string, name: string, values: Record<string, string>): Manifest {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace, labels: { "app.kubernetes.io/part-of": "mutualis-local" } },
    type: "Opaque",
    stringData: values,
  };
}

/**
 * Creates a Secret unless it exists: never replaced, since a key that changes makes what it
 * protects unreadable. `values` is only called when the Secret is made.
 */
export async function ensureSecret(kubectl: Kubectl, namespace: string, name: string, values: () => Record<string, string>): Promise<"created" | "kept"> {
  const found = await kubectl.run(["get", "secret", name, "-n", namespace, "--ignore-not-found", "-o", "name"]);
  if (found.trim()) return "kept";
  await kubectl.run(["create", "-f", "-"], JSON.stringify(secretManifest(namespace, name, values())));
  return "created";
}

/**
 * The exchange's master key: 32 random bytes, base64. A platform started before sesf ran as a pod
 * kept its key in a file: that key is carried over, so the files it encrypted stay readable.
 */
export function sesfMasterKey(formerKeyFile: string): Record<string, string> {
  const key = existsSync(formerKeyFile) ? readFileSync(formerKeyFile, "utf8").trim() : randomBytes(32).toString("base64");
  return { "master.key": key };
}

/** Where a claim's directory lives under the platform's data. */
export function claimDirectory(dataDir: string, namespace: string, claim: string): string {
  return join(dataDir, "claims", namespace, claim);
}

/** Where the local platform's own processes listen, which the lot's services are told. */
export interface LotEndpoints {
  readonly NATS_URL?: string;
  readonly MONGODB_URI?: string;
  readonly PROMETHEUS_URL?: string;
  readonly CLAMD_ADDRESS?: string;
  readonly SMTP_URL?: string;
}

/** The hosting lot's local profile, told where the local platform's own processes listen. */
export function localLotSettings(config: PlatformConfig, env: LotEndpoints): LotSettings {
  const agentZone = config.zones.find((z) => z.runner === "agent")?.name;
  return {
    ...localLot,
    endpoints: { nats: env.NATS_URL, database: env.MONGODB_URI, prometheus: env.PROMETHEUS_URL, antivirus: env.CLAMD_ADDRESS, smtp: env.SMTP_URL },
    ...(agentZone ? { servicesNodeSelector: { "topology.kubernetes.io/zone": agentZone } } : {}),
    // The public services keep the local platform's fixed ports.
    publicUrls: { sesf: `http://127.0.0.1:${config.ports.sesf}`, gateway: `http://127.0.0.1:${config.ports.gateway}`, identity: `https://127.0.0.1:${config.ports.identity}`, portal: `http://127.0.0.1:${config.ports.portal}`, ipl: `http://127.0.0.1:${config.ports.ipl}` },
    // The ProConnect simulator the local platform runs beside it (components.ts).
    proconnect: { issuer: `https://127.0.0.1:${config.ports.proconnect}/api/v2`, clientId: proconnectClientId, secret: "identity-proconnect" },
  };
}

/**
 * The local ingress's route to a shared service of the lot: its fixed port, to the ready pods of
 * its Deployment (by the Deployment's own selector), on the service's port.
 */
export function lotServiceRoute(config: PlatformConfig, env: LotEndpoints, service: string, port: number): string {
  const settings = localLotSettings(config, env);
  const deployment = sharedServiceManifests(settings, service).find((m) => m.kind === "Deployment")!;
  const selector = Object.entries((deployment.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  return `${port}=${settings.platformNamespace}/${selector}:8080`;
}

/** What the platform team provides a shared service before it runs: the Secrets the lot names. */
const providers: Readonly<Record<string, (kubectl: Kubectl, paths: Layout, namespace: string, config: PlatformConfig) => Promise<void>>> = {
  sesf: async (kubectl, paths, namespace) => {
    const created = await ensureSecret(kubectl, namespace, externalSecrets.sesfMasterKey, () => sesfMasterKey(join(paths.services, "sesf-master.key")));
    // A platform started before sesf ran as a pod kept its files here: they move to the claim's directory.
    const former = join(paths.data, "sesf");
    const claimed = claimDirectory(paths.data, namespace, "sesf-storage");
    if (created === "created" && existsSync(former) && !existsSync(claimed)) {
      mkdirSync(dirname(claimed), { recursive: true });
      renameSync(former, claimed);
    }
  },
  parapheur: async (kubectl, _paths, namespace) => {
    // Made once and kept: the signing keys it sealed stay readable.
    await ensureSecret(kubectl, namespace, externalSecrets.parapheurMasterKey, () => ({ "master.key": randomBytes(32).toString("base64") }));
  },
  portal: async (kubectl, _paths, namespace, config) => {
    await kubectl.apply([secretManifest(namespace, externalSecrets.portalClient, (await localIdentitySecrets(config)).portal!)]);
  },
  identity: async (kubectl, _paths, namespace, config) => {
    const secrets = await localIdentitySecrets(config);
    // The signing keys are made once and never replaced: tokens already issued stay valid.
    await ensureSecret(kubectl, namespace, externalSecrets.identityKeys, () => secrets.keys!);
    await kubectl.apply([
      secretManifest(namespace, externalSecrets.identityClients, secrets.clients!),
      secretManifest(namespace, localLot.identityTls!, secrets.tls!),
      secretManifest(namespace, localLot.identitySeed!, secrets.seed!),
      secretManifest(namespace, localLot.identityCa!, secrets.ca!),
      secretManifest(namespace, "identity-proconnect", secrets.proconnect!),
    ]);
  },
};

/**
 * Applies one shared service of the local lot as the platform team would: first what it needs
 * that the lot does not hold (its Secrets; for each storage claim, a volume that is a directory
 * of this machine on the node that runs pods), then its own objects. Returns those objects.
 */
export async function applyLotService(config: PlatformConfig, env: LotEndpoints, service: string): Promise<Manifest[]> {
  const paths = layout(config);
  const kubectl = new Kubectl(paths.bin("kubectl"), paths.kubeconfig);
  const settings = localLotSettings(config, env);
  const manifests = sharedServiceManifests(settings, service);
  // Every service verifies tokens from the platform's issuer, whose certificate the local CA signed.
  await kubectl.apply([secretManifest(settings.platformNamespace, localLot.identityCa!, { "ca.crt": readFileSync(join(paths.pki, "ca.crt"), "utf8") })]);
  await providers[service]?.(kubectl, paths, settings.platformNamespace, config);
  const node = config.zones.find((z) => z.runner === "agent")?.node;
  for (const claim of manifests.filter((m) => m.kind === "PersistentVolumeClaim")) {
    const { name, namespace } = claim.metadata as { name: string; namespace: string };
    if (!node) throw new Error(`${service} claims storage, and no zone of this platform runs pods`);
    await provideVolume(kubectl, localVolume(claim, claimDirectory(paths.data, namespace, name), node));
  }
  await kubectl.apply(manifests);
  return manifests;
}

/**
 * Applies a claim's volume. One left Released by a claim deleted and made again is made anew
 * (its directory, and so the data, are kept), as an administrator reuses a retained volume.
 */
async function provideVolume(kubectl: Kubectl, volume: Manifest): Promise<void> {
  const name = (volume.metadata as { name: string }).name;
  const phase = await kubectl.run(["get", "persistentvolume", name, "--ignore-not-found", "-o", "jsonpath={.status.phase}"]);
  if (phase.trim() === "Released") await kubectl.run(["delete", "persistentvolume", name, "--wait=true"]);
  await kubectl.apply([volume]);
}
