/**
 * What the benchmarks share: a bounded pool of work, the operator run as a process of its own on
 * a bench platform, its peak memory and metrics, and where results are kept.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { identityService, identitySettings } from "@mutualis/identity";
import { buildServicesBundle, createAccount, down, ensureOperatorIdentity, layout, loadConfig, localIdentitySecrets, platformEnv, pushAccountJwt, servicesBundle, signAccount, up, userCreds, type Daemon, type PlatformConfig } from "@mutualis/local-platform";
import { operatorProcessEnv } from "@mutualis/operator";
import { loadSettings, RunningService } from "@mutualis/service-kit";

/**
 * A platform of the benchmark's own (its directory, its ports), started fresh: every run measures
 * the same start. No operator runs; `fastStorage` trades etcd's and FerretDB's syncs for speed.
 */
export async function freshBenchPlatform(dir: string, portOffset: string, fastStorage = true): Promise<PlatformConfig> {
  const config = loadConfig({ ...process.env, MUTUALIS_LOCAL_DIR: dir, MUTUALIS_PORT_OFFSET: portOffset, ...(fastStorage ? { MUTUALIS_UNSAFE_FAST_STORAGE: "1" } : {}), MUTUALIS_WITH_OPERATOR: "0" });
  await down(config);
  rmSync(config.dir, { recursive: true, force: true });
  console.log(`bench: starting a platform of its own in ${config.dir}`);
  await up(config);
  return config;
}

/** Runs `work` over items with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/**
 * The operator as it runs in production, a process of its own, against the bench platform;
 * BENCH_CPU_PROFILE=<dir> writes a CPU profile there when it stops, BENCH_HEAP_PROFILE=<dir> a
 * sampling heap profile (what is still held when it stops); BENCH_OPERATOR_NODE_ARGS adds
 * options to its node command (V8's, to try how they change its memory and time).
 */
export function benchOperator(config: PlatformConfig, workers: number): Daemon {
  const paths = layout(config);
  return {
    name: "bench-operator",
    command: process.execPath,
    // Compiled, as the image ships it: the services bundle, run by plain Node.js.
    args: [
      ...(process.env.BENCH_CPU_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : []),
      ...(process.env.BENCH_HEAP_PROFILE ? ["--heap-prof", `--heap-prof-dir=${process.env.BENCH_HEAP_PROFILE}`] : []),
      ...(process.env.BENCH_OPERATOR_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      buildServicesBundle(config),
      "operator",
    ],
    cwd: config.root,
    marker: servicesBundle(config),
    env: {
      ...process.env,
      ...platformEnv(config),
      // Its heap and malloc settings, as the chart's Deployment gives them.
      ...operatorProcessEnv,
      OPERATOR_HTTP_PORT: String(config.ports.operator),
      OPERATOR_HTTP_HOST: "127.0.0.1",
      OPERATOR_WORKERS: String(workers),
      LOG_LEVEL: "warn",
    },
    logFile: paths.log("bench-operator"),
    pidFile: paths.pid("bench-operator"),
  };
}

/** Waits, a minute at most, until the operator answers its readiness probe. */
export async function waitForOperator(config: PlatformConfig): Promise<void> {
  const url = `${platformEnv(config).OPERATOR_URL}/readyz`;
  for (let i = 0; i < 240 && !(await fetch(url).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 250));
}

/**
 * The sum of the samples of a Prometheus text exposition whose line starts with `prefix` (and
 * contains `label`, such as `method="PATCH"`, when given: labels come in no fixed order).
 */
export function sumSamples(metricsText: string, prefix: string, label = ""): number {
  return metricsText
    .split("\n")
    .filter((l) => l.startsWith(prefix) && l.includes(label))
    .reduce((total, l) => total + Number(l.split(" ").at(-1)), 0);
}

/** The most memory the process has held (VmHWM), in MiB. */
export function peakMemoryMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** Keeps a result where it outlives the bench platform's directory, which the next run wipes. */
export function saveResult(config: PlatformConfig, fileName: string, result: unknown): void {
  const results = join(config.root, ".local", "bench-results");
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, fileName), JSON.stringify(result, null, 2) + "\n");
}

/**
 * A NATS account of its own for a benchmark's services (no operator runs): its services' creds
 * written to `<dir>/services.creds`, and a way to connect more users of the same account.
 */
export async function benchServicesAccount(config: PlatformConfig): Promise<{ credsFile: string; connectAs: (user: string) => Promise<NatsConnection> }> {
  const env = platformEnv(config);
  const identity = await ensureOperatorIdentity(layout(config).nats);
  const account = createAccount();
  const system = await connect({ servers: env.NATS_URL, authenticator: credsAuthenticator(identity.systemUserCreds) });
  await pushAccountJwt(system, await signAccount(identity, "bench-services", account));
  await system.close();
  const credsFile = join(config.dir, "services.creds");
  writeFileSync(credsFile, await userCreds("services", account), { mode: 0o600 });
  return { credsFile, connectAs: async (user) => connect({ servers: env.NATS_URL, authenticator: credsAuthenticator(await userCreds(user, account)) }) };
}

/**
 * The identity service in this process on the bench platform's identity port, as the local lot
 * runs it (its keys, clients, TLS certificate and demo people): the bench's callers sign in there.
 */
export async function benchIdentity(config: PlatformConfig, credsFile: string, extra: Record<string, string> = {}): Promise<RunningService> {
  const env = platformEnv(config);
  const dir = join(config.dir, "identity", "bench");
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  for (const [secret, values] of Object.entries(await localIdentitySecrets(config))) {
    for (const [key, value] of Object.entries(values)) writeFileSync((files[`${secret}/${key}`] = join(dir, key)), value, { mode: 0o600 });
  }
  return new RunningService(
    identityService(),
    loadSettings(identitySettings, {
      SERVICE_NAME: "identity",
      HTTP_PORT: String(config.ports.identity),
      HTTP_INTERNAL_PORT: "0",
      HTTP_HOST: "127.0.0.1",
      NATS_URL: env.NATS_URL,
      NATS_CREDS_FILE: credsFile,
      MONGODB_URI: env.MONGODB_URI,
      MONGODB_DATABASE: "identity",
      LOG_LEVEL: "error",
      HTTP_TLS_CERT_FILE: files["tls/tls.crt"]!,
      HTTP_TLS_KEY_FILE: files["tls/tls.key"]!,
      IDENTITY_PUBLIC_ISSUER: env.IDENTITY_ISSUER,
      IDENTITY_ISSUER: env.IDENTITY_ISSUER,
      IDENTITY_CA_FILE: env.IDENTITY_CA_FILE,
      IDENTITY_KEYS_FILE: files["keys/keys.json"]!,
      IDENTITY_CLIENTS_FILE: files["clients/clients.json"]!,
      IDENTITY_SEED_FILE: files["seed/seed.json"]!,
      ...extra,
    }),
  ).start();
}

/** Requests' count, rate and latency percentiles (ms) of a load run. */
export interface LoadResult {
  readonly requests: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * Runs `call` `warmup` times, then `concurrency` at a time for `seconds`, timing each: the load
 * loop every benchmark shares.
 */
export async function measureLoad(call: () => Promise<void>, options: { concurrency: number; seconds: number; warmup: number; digits?: number }): Promise<LoadResult> {
  for (let i = 0; i < options.warmup; i++) await call();
  const latencies: number[] = [];
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const digits = options.digits ?? 2;
  const at = (q: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(digits));
  return { requests: latencies.length, perSecond: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}
