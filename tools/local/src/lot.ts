import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { localLot, lotManifests, lotProfiles, synthesizeLot } from "@mutualis/cdk8s";
import { stringify } from "yaml";
import type { Kubectl } from "./cluster.ts";
import type { PlatformConfig } from "./config.ts";
import { layout } from "./layout.ts";
import { platformEnv, stopComponent, type PlatformEnv } from "./platform.ts";

const run = promisify(execFile);

type Say = (line: string) => void;
const b64 = (text: string) => Buffer.from(text).toString("base64");

/**
 * The hosting lot as code: both profiles synthesised (as `make synth` does), the production lot
 * checked by the API server (a server-side dry run), and the local lot's platform namespaces and
 * hosting zones applied (`make up` already runs its stateless shared services as pods).
 */
export async function hostingLot(config: PlatformConfig, kubectl: Kubectl, say: Say): Promise<void> {
  say("");
  say("The hosting lot as code (cdk8s)…");
  const dist = join(config.root, "cdk8s", "dist");
  for (const [name, settings] of Object.entries(lotProfiles)) {
    const outdir = join(dist, name);
    const { objects, layers } = synthesizeLot(settings, outdir);
    say(`  ✓ ${name} lot synthesised: ${objects} objects in ${layers} layers (${relative(process.cwd(), outdir)}/)`);
  }
  const apply = (file: string, ...extra: string[]) => kubectl.run(["apply", "--server-side", "--force-conflicts", "--field-manager=mutualis-lot", ...extra, "-f", file]);
  for (const layer of ["00-namespaces", "10-zones"]) await apply(join(dist, "local", `${layer}.k8s.yaml`));
  say(`  ✓ local lot applied: namespaces ${localLot.platformNamespace} and ${localLot.monitoringNamespace} (Pod Security restricted, default deny), hosting zones ${localLot.zones.map((z) => z.name).join(", ")}`);
  // A claim the local platform already holds cannot change size in place (no resizable storage
  // class here): the production claim is checked as a new one, under another name.
  const held = new Set((await kubectl.run(["get", "persistentvolumeclaims", "-A", "-o", "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}"])).split("\n").filter(Boolean));
  const production = lotManifests(lotProfiles.production!).map((m) => {
    const { name, namespace } = m.metadata as { name: string; namespace?: string };
    return m.kind === "PersistentVolumeClaim" && held.has(`${namespace}/${name}`) ? { ...m, metadata: { ...(m.metadata as object), name: `${name}-production-check` } } : m;
  });
  const checked = await kubectl.run(["apply", "--server-side", "--force-conflicts", "--field-manager=mutualis-lot", "--dry-run=server", "-f", "-"], production.map((m) => stringify(m)).join("---\n"));
  const accepted = checked.split("\n").filter(Boolean).length;
  say(`  ✓ production lot accepted by the API server (server-side dry run): ${accepted} objects — NATS ×${lotProfiles.production!.nats.replicas} with JetStream, FerretDB on PostgreSQL, Prometheus, ClamAV, the shared services`);
  say("  → the shared services (actes, sesf, the publication of acts, the observatory, the gateway and the prefecture simulator) run here as the lot's pods, on local-1 behind the platform's fixed ports, sesf's files on a volume of its own; NATS, FerretDB, Prometheus and ClamAV as the platform's processes; Prometheus loads the lot's alerting rules");
}

/** The chart's values on the local platform, as `--set` arguments for Helm. */
export function localChartValues(config: PlatformConfig, env: Pick<PlatformEnv, "NATS_URL" | "MUTUALIS_ZONES" | "GATEWAY_URL" | "IDENTITY_ISSUER">): string[] {
  const agentZone = config.zones.find((z) => z.runner === "agent")?.name ?? "fr-bzh-1a";
  return [
    "--set", `nats.url=${env.NATS_URL}`,
    "--set", `zones={${env.MUTUALIS_ZONES}}`,
    "--set", `gatewayUrl=${env.GATEWAY_URL}`,
    // The local identity service, its certificate from the local CA.
    "--set", `identity.issuer=${env.IDENTITY_ISSUER}`,
    "--set", "identity.privateCa=true",
    // The zone whose node really runs pods (KWOK's only pretends).
    "--set", `nodeSelector.topology\\.kubernetes\\.io/zone=${agentZone}`,
  ];
}

/**
 * The operator installed by its Helm chart, its two pods run by the node agent on local-1. The
 * operator process `make up` started hands over: it stops, and a pod takes the Lease. (`make up`
 * starts the process again; it then waits as a standby, the Lease deciding who works.)
 */
export async function installOperatorChart(config: PlatformConfig, kubectl: Kubectl, say: Say): Promise<void> {
  const env = platformEnv(config);
  const namespace = localLot.platformNamespace;
  say("");
  say("Installing the operator with its Helm chart (charts/mutualis)…");
  await kubectl.apply([
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "mutualis-nats-operator", namespace },
      data: { "system.creds": b64(readFileSync(env.NATS_SYSTEM_CREDS, "utf8")), "operator.nk": b64(readFileSync(env.NATS_OPERATOR_SEED_FILE, "utf8")) },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "mutualis-database", namespace },
      // The operator's pods run on this machine: the URI's tlsCAFile is the local CA's own path.
      data: { MONGODB_URI: b64(env.MONGODB_URI), DATABASE_ADMIN_URL: b64(env.DATABASE_ADMIN_URL) },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "mutualis-identity", namespace },
      data: { "client-secret": b64(readFileSync(env.OPERATOR_CLIENT_SECRET_FILE, "utf8")), "ca.crt": b64(readFileSync(env.IDENTITY_CA_FILE, "utf8")) },
    },
  ]);
  const helm = layout(config).bin("helm");
  await run(helm, [
    "upgrade", "--install", "mutualis", join(config.root, "charts", "mutualis"),
    "--kubeconfig", env.KUBECONFIG, "--namespace", namespace, "--take-ownership", "--wait", "--timeout", "240s",
    ...localChartValues(config, env),
  ]);
  const pods = (await kubectl.run(["get", "pods", "-n", namespace, "-l", "app.kubernetes.io/name=mutualis-operator", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{\"\\n\"}{end}"])).trim().split("\n");
  say(`  ✓ release mutualis installed in ${namespace}: ${pods.length} operator pods Running on local-1 (${pods.map((p) => p.replace(" ", " at ")).join(", ")})`);
  await stopComponent(config, "operator");
  const names = pods.map((p) => p.split(" ")[0]!);
  const deadline = Date.now() + 90_000;
  let holder = "";
  while (Date.now() < deadline) {
    holder = (await kubectl.run(["get", "lease", "mutualis-operator", "-n", namespace, "-o", "jsonpath={.spec.holderIdentity}"]).catch(() => "")).trim();
    if (names.some((name) => holder.startsWith(name))) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (!names.some((name) => holder.startsWith(name))) throw new Error(`no operator pod took the Lease within 90 s (holder: ${holder || "none"})`);
  say(`  ✓ the operator process handed over: pod ${names.find((n) => holder.startsWith(n))} leads; the other pod stands by`);
}
