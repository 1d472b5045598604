import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { kwokNodeAnnotation, Kubectl, platformRbac, zoneNodes } from "./cluster.ts";
import { components, type Component, type ComponentContext } from "./components.ts";
import { servicesImage, type PlatformConfig } from "./config.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { layout } from "./layout.ts";
import { ensureLocalSecrets } from "./identity.ts";
import { adminMongoUri, adminPostgresUrl } from "./database.ts";
import { ensurePki, pkiPaths } from "./pki.ts";
import { listeningPids, lowDiskMiB, minimumFreeBytes, portInUse, runningPid, runsDaemon, startDaemon, StartError, stopDaemon, waitUntilReady } from "./processes.ts";

export type Progress = (line: string) => void;

const silent: Progress = () => {};

/** Everything a client of the local platform needs, as written to `.local/env`. */
export interface PlatformEnv {
  readonly KUBECONFIG: string;
  readonly KUBE_API_URL: string;
  readonly NATS_URL: string;
  readonly NATS_MONITOR_URL: string;
  readonly NATS_SYSTEM_CREDS: string;
  readonly NATS_OPERATOR_SEED_FILE: string;
  /** FerretDB as the platform's administrative role (TLS, PLAIN): the operator's and the tests'. */
  readonly MONGODB_URI: string;
  /** PostgreSQL under FerretDB, as the same role: the operator makes the roles there. */
  readonly DATABASE_ADMIN_URL: string;
  readonly PROMETHEUS_URL: string;
  readonly CLAMD_ADDRESS: string;
  readonly OBSERVATORY_URL: string;
  /** The acts published: public pages, feeds and open data. */
  readonly IPL_URL: string;
  readonly ETCD_URL: string;
  readonly MUTUALIS_ZONES: string;
  readonly MUTUALIS_SERVICES_IMAGE: string;
  readonly OPERATOR_URL: string;
  readonly GATEWAY_URL: string;
  /** The platform's OpenID Connect issuer (the identity service, over TLS from the local CA). */
  readonly IDENTITY_ISSUER: string;
  readonly IDENTITY_CA_FILE: string;
  /** The operator's client secret at the identity service (client credentials). */
  readonly OPERATOR_CLIENT_SECRET_FILE: string;
  /** The mail catcher: services send here, and nothing is delivered. */
  readonly SMTP_URL: string;
  /** Where the caught messages are read: a page in French, and `/api/messages`. */
  readonly MAIL_CATCHER_URL: string;
}

/** What the components need to be described; nothing is created on disk. */
function context(config: PlatformConfig): ComponentContext {
  const paths = layout(config);
  return { config, paths, pki: pkiPaths(paths.pki) };
}

/** Creates the directories, the PKI and the admin kubeconfig, once. */
function prepareDisk(ctx: ComponentContext): void {
  const { config, paths } = ctx;
  for (const dir of [config.dir, paths.logs, paths.run, paths.kube, paths.nats, paths.prometheus, paths.data, paths.clamav]) {
    mkdirSync(dir, { recursive: true });
  }
  const free = lowDiskMiB(config.dir);
  if (free !== undefined) {
    throw new StartError("local platform", `only ${free} MiB are free on the disk of ${config.dir}; its stores and logs need at least ${minimumFreeBytes / 1024 ** 3} GiB`, "");
  }
  const pki = ensurePki(paths.pki);
  ensureLocalSecrets(paths.identity);
  writeKubeconfig(paths.kubeconfig, `https://127.0.0.1:${config.ports.apiServer}`, pki.ca.cert, pki.admin, "mutualis-admin");
}

export function platformEnv(config: PlatformConfig): PlatformEnv {
  const paths = layout(config);
  const { ports } = config;
  return {
    KUBECONFIG: paths.kubeconfig,
    KUBE_API_URL: `https://127.0.0.1:${ports.apiServer}`,
    NATS_URL: `nats://127.0.0.1:${ports.nats}`,
    NATS_MONITOR_URL: `http://127.0.0.1:${ports.natsMonitor}`,
    NATS_SYSTEM_CREDS: `${paths.nats}/system-user.creds`,
    NATS_OPERATOR_SEED_FILE: `${paths.nats}/operator.nk`,
    MONGODB_URI: adminMongoUri(config, join(paths.pki, "ca.crt")),
    DATABASE_ADMIN_URL: adminPostgresUrl(config),
    PROMETHEUS_URL: `http://127.0.0.1:${ports.prometheus}`,
    CLAMD_ADDRESS: `127.0.0.1:${ports.clamd}`,
    ETCD_URL: `http://127.0.0.1:${ports.etcd}`,
    MUTUALIS_ZONES: config.zones.map((z) => z.name).join(","),
    MUTUALIS_SERVICES_IMAGE: servicesImage,
    OPERATOR_URL: `http://127.0.0.1:${ports.operator}`,
    GATEWAY_URL: `http://127.0.0.1:${ports.gateway}`,
    IDENTITY_ISSUER: `https://127.0.0.1:${ports.identity}`,
    IDENTITY_CA_FILE: join(paths.pki, "ca.crt"),
    OPERATOR_CLIENT_SECRET_FILE: join(paths.identity, "operator-client-secret"),
    OBSERVATORY_URL: `http://127.0.0.1:${ports.observatory}`,
    IPL_URL: `http://127.0.0.1:${ports.ipl}`,
    SMTP_URL: `smtp://127.0.0.1:${ports.mailCatcherSmtp}`,
    MAIL_CATCHER_URL: `http://127.0.0.1:${ports.mailCatcherWeb}`,
  };
}

/** The components, the operator's environment being the one `.local/env` describes. */
function platformComponents(ctx: ComponentContext): Component[] {
  return components(ctx, { ...platformEnv(ctx.config) });
}

function checkBinaries(list: readonly Component[]): void {
  const missing = list.filter((c) => !existsSync(c.daemon.command)).map((c) => c.daemon.command);
  if (missing.length > 0) {
    throw new StartError("local platform", `missing programs: ${missing.join(", ")} (run tools/build.sh, or make tools)`, "");
  }
}

/** Stops what an earlier version of the platform ran for the component and still holds its ports. */
async function stopFormerPrograms(component: Component): Promise<void> {
  for (const marker of component.formerMarkers ?? []) {
    const former = { ...component.daemon, marker, pidFile: `${component.daemon.pidFile}.former` };
    for (const port of component.ports) {
      for (const pid of listeningPids(port)) {
        if (!runsDaemon(pid, former)) continue;
        writeFileSync(former.pidFile, `${pid}\n`);
        await stopDaemon(former);
      }
    }
  }
}

/** Starts one component unless it already runs; waits until it is ready either way. */
async function ensureStarted(component: Component, progress: Progress): Promise<void> {
  const started = Date.now();
  if (runningPid(component.daemon) !== undefined) {
    await waitUntilReady(component.daemon, () => component.ready(), component.startTimeoutMs);
    progress(`  ✓ ${component.name} already running (${component.endpoint})`);
    return;
  }
  await stopFormerPrograms(component);
  for (const port of component.ports) {
    if (await portInUse(port)) {
      throw new StartError(
        component.name,
        `port ${port} is already taken by another program; move the platform with MUTUALIS_PORT_OFFSET or MUTUALIS_PORT_* (see README)`,
        "",
      );
    }
  }
  progress(`  … starting ${component.name}`);
  await component.prepare?.();
  startDaemon(component.daemon);
  await waitUntilReady(component.daemon, () => component.ready(), component.startTimeoutMs);
  progress(`  ✓ ${component.name} ready in ${((Date.now() - started) / 1000).toFixed(1)}s (${component.endpoint})`);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new StartError("local platform", `${what} did not happen within ${timeoutMs / 1000}s`, "");
    await sleep(500);
  }
}

/** Cluster objects that belong to the platform itself, applied once their component is up. */
function bootstrapSteps(ctx: ComponentContext, kubectl: Kubectl, progress: Progress): Record<string, () => Promise<void>> {
  return {
    "kube-apiserver": async () => {
      await kubectl.apply(platformRbac());
      // The custom resources, generated from api/ (the Helm chart installs the same files).
      await kubectl.run(["apply", "--server-side", "--field-manager=mutualis-local", "-f", join(ctx.config.root, "crds")]);
      await kubectl.run(["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
      // kubectl caches discovery per server address for hours: one read before the CRDs were
      // served (or from an earlier platform on the same port) would hide `kubectl get mutualis`.
      rmSync(join(homedir(), ".kube", "cache", "discovery", `127.0.0.1_${ctx.config.ports.apiServer}`), { recursive: true, force: true });
    },
    "kube-controller-manager": async () => {
      // Pods cannot be admitted in a namespace until its default service account exists.
      await waitFor(
        "the default service account",
        async () => (await kubectl.run(["get", "serviceaccount", "default", "-n", "default", "-o", "name"])).trim() !== "",
        60_000,
      );
    },
    kwok: async () => {
      await kubectl.apply(zoneNodes(ctx.config.zones));
      const names = ctx.config.zones.filter((z) => z.runner === "kwok").map((z) => `node/${z.node}`);
      if (names.length > 0) await kubectl.run(["wait", "--for=condition=Ready", "--timeout=90s", ...names]);
    },
    "node-agent": async () => {
      await waitFor(
        "the node agent's node registration",
        async () => (await kubectl.run(["get", "nodes", "-o", "name"])).split("\n").filter(Boolean).length >= ctx.config.zones.length,
        30_000,
      );
      const names = ctx.config.zones.map((z) => `node/${z.node}`);
      await kubectl.run(["wait", "--for=condition=Ready", "--timeout=90s", ...names]);
      progress(`  ✓ nodes Ready: ${ctx.config.zones.map((z) => `${z.node} (${z.name}, ${z.runner === "agent" ? "pods run as local processes" : "simulated by KWOK"})`).join(", ")}`);
    },
  };
}

function writeEnvFile(config: PlatformConfig): void {
  const env = platformEnv(config);
  // Sourced by a shell (`set -a; . .local/env`): a value with a character the shell reads
  // (the database URI's `&`) is single-quoted.
  const quoted = (value: string) => (/^[\w./:,@%+=-]*$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);
  const lines = Object.entries(env).map(([key, value]) => `${key}=${quoted(value)}`);
  // It holds the database administrator's password: its owner's only.
  writeFileSync(layout(config).env, lines.join("\n") + "\n", { mode: 0o600 });
  chmodSync(layout(config).env, 0o600);
}

/** Starts the whole local platform; running it again while it runs changes nothing. */
export async function up(config: PlatformConfig, progress: Progress = silent): Promise<PlatformEnv> {
  const ctx = context(config);
  const list = platformComponents(ctx);
  checkBinaries(list);
  prepareDisk(ctx);
  const kubectl = new Kubectl(ctx.paths.bin("kubectl"), ctx.paths.kubeconfig);
  const steps = bootstrapSteps(ctx, kubectl, progress);
  for (const component of list) {
    await ensureStarted(component, progress);
    await steps[component.name]?.();
  }
  writeEnvFile(config);
  return platformEnv(config);
}

/**
 * Waits until nothing listens on the component's ports any more. A process of the component's
 * own program still listening there (its pid file lost, say) is stopped too; anything else is
 * reported.
 */
async function waitForPortsFree(component: Component, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of component.ports) {
    for (const pid of listeningPids(port)) {
      if (runsDaemon(pid, component.daemon)) {
        writeFileSync(component.daemon.pidFile, `${pid}\n`);
        await stopDaemon(component.daemon);
      }
    }
    while (await portInUse(port)) {
      if (Date.now() > deadline) {
        const owners = listeningPids(port).join(", ") || "unknown";
        throw new StartError(component.name, `port ${port} is still in use after stopping (pid ${owners})`, "");
      }
      await sleep(100);
    }
  }
}

/** Stops every component, last started first, and checks that their ports are free again. */
export async function down(config: PlatformConfig, progress: Progress = silent): Promise<void> {
  const list = platformComponents(context(config)).reverse();
  for (const component of list) {
    const started = Date.now();
    if (await stopDaemon(component.daemon)) {
      progress(`  ✓ stopped ${component.name} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    }
  }
  for (const component of list) {
    await stopFormerPrograms(component);
    await waitForPortsFree(component);
  }
}

function componentNamed(ctx: ComponentContext, name: string): Component {
  const component = platformComponents(ctx).find((c) => c.name === name);
  if (!component) throw new Error(`no component named ${name}`);
  return component;
}

/** Stops one component, keeping its data: for tests of what happens while it is away. */
export async function stopComponent(config: PlatformConfig, name: string): Promise<void> {
  const component = componentNamed(context(config), name);
  await stopDaemon(component.daemon);
  await waitForPortsFree(component);
}

/** Starts one component again (or leaves it running) and waits until it is ready. */
export async function startComponent(config: PlatformConfig, name: string, progress: Progress = silent): Promise<void> {
  const ctx = context(config);
  prepareDisk(ctx);
  await ensureStarted(componentNamed(ctx, name), progress);
}

/** Stops and starts one component, keeping its data: used by tests of persistence. */
export async function restart(config: PlatformConfig, name: string, progress: Progress = silent): Promise<void> {
  await stopComponent(config, name);
  await startComponent(config, name, progress);
}

export interface ComponentStatus {
  readonly name: string;
  readonly pid?: number;
  readonly ready: boolean;
  readonly endpoint: string;
  readonly log: string;
}

export async function status(config: PlatformConfig): Promise<ComponentStatus[]> {
  return Promise.all(
    platformComponents(context(config)).map(async (c) => {
      const pid = runningPid(c.daemon);
      const ready = pid !== undefined && (await c.ready().catch(() => false));
      return { name: c.name, pid, ready, endpoint: c.endpoint, log: c.daemon.logFile };
    }),
  );
}

export { kwokNodeAnnotation };
