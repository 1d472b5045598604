/**
 * Benchmark: N tenants (BENCH_TENANTS, default 200; 1,500 is the target) × 3 shared
 * ServiceInstances each (actes, helios, parapheur), from the first ServiceInstance created until
 * all 3N are Ready, against a floor measured in the same run on the same platform: a plain client
 * doing the least work with no operator — per tenant, create its three ServiceInstances, push its
 * NATS account once with the three services imported, ask each shared service to enable the
 * tenant, and write Ready in one status patch per instance. It adds no finalizer and
 * records no event: those, and the Collectivity reconciles a new instance sets off, are the
 * operator's own costs, counted in its time.
 *
 * The shared services run in this process with the platform services account's creds, as the
 * hosting lot runs them: actes is the real service. helios and parapheur have no domain service
 * yet, so each is a real RunningService of @mutualis/service-kit whose only endpoints are
 * platform.<service>.tenants.enable and .disable, storing the tenant in its database the way actes'
 * TenantRepository does.
 *
 * The floor calls the operator's own NatsAccounts, platform services set-up and setCondition,
 * which @mutualis/operator does not export: they are imported from its source.
 *
 * Runs on a platform of its own (.local/bench-services, ports +5000), started and stopped here.
 */
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { actesService, actesSettings } from "@mutualis/actes";
import { departementOf, sirenWithCheckDigit, type ServiceInstance } from "@mutualis/api";
import { down, fromSeed, layout, userCreds, loadConfig, platformEnv, runningPid, startDaemon, stopDaemon, up, type PlatformConfig, type PlatformEnv } from "@mutualis/local-platform";
import { conditionTypes, fieldManager, KubeApiError, KubeClient, platformObjects, reasons, renderTenant, resourceTypes, tenantDatabase, tenantNamespace } from "@mutualis/operator";
import { allow, baseSettings, InvalidRequest, loadSettings, RunningService, type ServiceDefinition } from "@mutualis/service-kit";
import { setCondition } from "../operator/src/runtime/conditions.ts";
import { NatsAccounts, newTenantKeys, type TenantKeys } from "../operator/src/tenancy/nats-accounts.ts";
import { ensurePlatformServices, servicesKeysSecret } from "../operator/src/tenancy/platform-services.ts";
import { ServiceClient } from "../operator/src/tenancy/service-client.ts";
import { benchOperator, peakMemoryMiB, pool, saveResult, sumSamples, waitForOperator } from "./support.ts";

const count = Number(process.env.BENCH_TENANTS ?? 200);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const services = ["actes", "helios", "parapheur"] as const;
type SharedService = (typeof services)[number];
const platformNamespace = "mutualis-system";
/** Which run an object belongs to, so each run waits on its own objects only. */
const runLabel = "bench.mutualis.fr/run";
const timeoutMs = 30 * 60_000;

interface Tenant {
  readonly name: string;
  readonly siren: string;
  readonly displayName: string;
}

/**
 * Communes of Ille-et-Vilaine (SIREN 2135…): the shared services read the département from it.
 * The floor's and the operator's tenants have SIRENs of their own (a SIREN is provisioned once).
 */
function tenant(prefix: string, i: number): Tenant {
  const range = prefix === "floor" ? 5000 : 0;
  return { name: `${prefix}-${i}`, siren: sirenWithCheckDigit(`2135${String(range + i).padStart(4, "0")}`), displayName: `Commune ${i}` };
}

function collectivity(run: string, { name, siren, displayName }: Tenant, i: number): KubernetesObject & { spec: Record<string, unknown> } {
  return {
    apiVersion: "mutualis.fr/v1alpha1",
    kind: "Collectivity",
    metadata: { name, labels: { [runLabel]: run } },
    spec: { displayName, siren, category: "commune", population: 1000 + i * 37, zone: i % 2 ? "fr-bzh-1a" : "fr-bzh-1b" },
  };
}

function serviceInstance(run: string, tenantName: string, service: SharedService): ServiceInstance {
  return {
    apiVersion: "mutualis.fr/v1alpha1",
    kind: "ServiceInstance",
    metadata: { name: service, namespace: tenantNamespace(tenantName), labels: { [runLabel]: run } },
    spec: { service },
  } as ServiceInstance;
}

/** What the operator asks a shared service when it enables a collectivity. */
function enableRequest({ name, siren, displayName }: Tenant) {
  return { collectivity: name, siren, departement: departementOf(siren), displayName };
}

// The shared services ------------------------------------------------------------------------

interface StoredTenant {
  _id: string;
  siren: string;
  departement: string;
  displayName: string;
  enabledAt: Date;
  disabledAt?: Date;
}

const collectivityName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function collectivityOf(request: unknown): string {
  const collectivity = (request as { collectivity?: unknown } | null)?.collectivity;
  if (typeof collectivity !== "string" || !collectivityName.test(collectivity)) throw new InvalidRequest("the request is invalid", { details: ["collectivity: a collectivity name"] });
  return collectivity;
}

function tenantOf(request: unknown): Omit<StoredTenant, "_id" | "enabledAt" | "disabledAt"> {
  const { siren, departement, displayName } = request as Record<string, unknown>;
  const details = [
    ...(typeof siren === "string" && /^[0-9]{9}$/.test(siren) ? [] : ["siren: nine digits"]),
    ...(typeof departement === "string" && /^[0-9]{2,3}[AB]?$/.test(departement) ? [] : ["departement: a département code"]),
    ...(typeof displayName === "string" && displayName.length > 0 && displayName.length <= 200 ? [] : ["displayName: 1 to 200 characters"]),
  ];
  if (details.length > 0) throw new InvalidRequest("the request is invalid", { details });
  return { siren: siren as string, departement: (departement as string).padStart(3, "0"), displayName: displayName as string };
}

/**
 * A shared service with no domain yet: only the platform endpoints that enable and disable a
 * collectivity, kept in its `tenants` collection as actes keeps them.
 */
function tenancyOnlyService(service: SharedService): ServiceDefinition {
  return {
    description: `${service}: tenant enablement only (a stand-in until its domain service exists)`,
    endpoints: ({ database }) => {
      const tenants = database.collection<StoredTenant>("tenants");
      return [
        {
          name: "enable-tenant",
          subject: `platform.${service}.tenants.enable`,
          callers: allow.platform(),
          handle: async (request) => {
            const collectivity = collectivityOf(request);
            await tenants.updateOne({ _id: collectivity }, { $set: tenantOf(request), $unset: { disabledAt: "" }, $setOnInsert: { enabledAt: new Date() } }, { upsert: true });
            return { enabled: collectivity };
          },
        },
        {
          name: "disable-tenant",
          subject: `platform.${service}.tenants.disable`,
          callers: allow.platform(),
          handle: async (request) => {
            const collectivity = collectivityOf(request);
            await tenants.updateOne({ _id: collectivity }, { $set: { disabledAt: new Date() } });
            return { disabled: collectivity };
          },
        },
      ];
    },
  };
}

/** Starts the three shared deployments in this process, into `running` as each starts. */
async function startSharedServices(env: PlatformEnv, credsFile: string, running: RunningService[]): Promise<void> {
  const common = { HTTP_PORT: "0", HTTP_INTERNAL_PORT: "0", HTTP_HOST: "127.0.0.1", NATS_URL: env.NATS_URL, NATS_CREDS_FILE: credsFile, MONGODB_URI: env.MONGODB_URI, LOG_LEVEL: "error" };
  running.push(await new RunningService(actesService(), loadSettings(actesSettings, { ...common, SERVICE_NAME: "actes", MONGODB_DATABASE: "actes" })).start());
  for (const service of ["helios", "parapheur"] as const) {
    running.push(await new RunningService(tenancyOnlyService(service), loadSettings(baseSettings, { ...common, SERVICE_NAME: service, MONGODB_DATABASE: service })).start());
  }
}

// Waiting ------------------------------------------------------------------------------------

interface WithReady extends KubernetesObject {
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Waits until `expected` objects of the run have Ready=True, following one watch rather than
 * listing in a loop: thousands of objects listed every second would slow the API server that
 * is being measured.
 */
async function waitUntilReady(client: KubeClient, type: (typeof resourceTypes)[keyof typeof resourceTypes], run: string, expected: number): Promise<void> {
  const labelSelector = `${runLabel}=${run}`;
  const ready = new Set<string>();
  const key = (object: KubernetesObject) => `${object.metadata?.namespace ?? ""}/${object.metadata?.name}`;
  const note = (object: WithReady) => {
    if (object.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) ready.add(key(object));
    else ready.delete(key(object));
  };
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  try {
    while (ready.size < expected && !stop.signal.aborted) {
      const list = await client.list<WithReady>(type, { labelSelector });
      ready.clear();
      list.items.forEach(note);
      let resourceVersion = list.metadata.resourceVersion!;
      try {
        while (ready.size < expected && !stop.signal.aborted) {
          await client.watch<WithReady>(
            type,
            resourceVersion,
            (event) => {
              resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
              if (event.type === "BOOKMARK") return;
              if (event.type === "DELETED") ready.delete(key(event.object));
              else note(event.object);
              if (ready.size >= expected) stop.abort();
            },
            stop.signal,
            { labelSelector },
          );
        }
      } catch (error) {
        // Too old a resourceVersion: list again.
        if (!(error instanceof KubeApiError && error.gone)) throw error;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  if (ready.size < expected) throw new Error(`only ${ready.size}/${expected} ${type.kind} objects Ready after ${timeoutMs / 60_000} minutes`);
}

// The floor ----------------------------------------------------------------------------------

/**
 * What a Ready Collectivity already gives a floor tenant before the measure: its namespace with
 * the quota and limits that admission applies to a ServiceInstance created there (the quota
 * counts them), and its NATS account, with no import yet.
 */
async function prepareFloor(client: KubeClient, nats: NatsAccounts, env: PlatformEnv, tenants: Tenant[]): Promise<Map<string, TenantKeys>> {
  const keys = new Map(tenants.map((t) => [t.name, newTenantKeys()]));
  const indexed = tenants.map((t, i) => ({ t, i }));
  await pool(indexed, concurrency, async ({ t, i }) => {
    const manifest = collectivity("floor", t, i);
    manifest.metadata!.uid = "00000000-0000-0000-0000-000000000000";
    const objects = renderTenant(manifest as never, { platformNamespace, natsPort: 4222, databasePort: 27017 }, {
      natsUrl: env.NATS_URL,
      natsCreds: new TextEncoder().encode("-----BEGIN NATS USER JWT-----\nbench\n------END NATS USER JWT------\n"),
      databaseUri: env.MONGODB_URI,
      database: tenantDatabase(t.name),
    });
    for (const object of objects.filter((o) => ["Namespace", "ResourceQuota", "LimitRange"].includes(o.kind))) {
      delete object.metadata.ownerReferences;
      await client.apply(object as KubernetesObject, "bench");
    }
    // The user's JWT is kept with the keys, as the operator keeps it: not signed again on every push.
    const { userJwt } = await nats.ensureTenant(t.name, keys.get(t.name)!, false);
    keys.set(t.name, { ...keys.get(t.name)!, userJwt });
  });
  return keys;
}

/** The floor's time, and the mean latency of each of its steps in milliseconds. */
interface FloorResult {
  readonly seconds: number;
  readonly stepMs: Record<"create" | "accountPush" | "enable" | "statusPatch", number>;
}

async function floor(client: KubeClient, nats: NatsAccounts, env: PlatformEnv, tenants: Tenant[], keys: Map<string, TenantKeys>): Promise<FloorResult> {
  const pairs = tenants.flatMap((t) => services.map((service) => ({ tenant: t, service })));
  const spent = { create: 0, accountPush: 0, enable: 0, statusPatch: 0 };
  const timed = async <T>(step: keyof typeof spent, work: Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await work;
    spent[step] += performance.now() - t0;
    return result;
  };
  const serviceClient = new ServiceClient(() => nats.servicesNats());
  const started = performance.now();
  // The least work there is: per tenant, its three instances created, ONE account push importing
  // all three services, the three enable requests and the three status writes.
  await pool(tenants, concurrency, async (t) => {
    const created = await Promise.all(services.map((service) => timed("create", client.create(resourceTypes.ServiceInstance, serviceInstance("floor", t.name, service)))));
    await timed("accountPush", nats.ensureTenant(t.name, keys.get(t.name)!, false, [...services]));
    await Promise.all(
      services.map(async (service, i) => {
        await timed("enable", serviceClient.platform(service, "tenants.enable", enableRequest(t)));
        const generation = created[i]!.metadata?.generation;
        const status = {
          observedGeneration: generation,
          conditions: setCondition(undefined, { type: conditionTypes.ready, status: "True", reason: reasons.ready, message: `enabled on the shared ${service} service` }, generation, new Date()),
          tenancy: "shared",
          url: `${env.GATEWAY_URL}/api/v1/tenants/${t.name}/${service}`,
        };
        await timed("statusPatch", client.mergePatch(resourceTypes.ServiceInstance, service, tenantNamespace(t.name), { status }, "status"));
      }),
    );
  });
  const mean = (ms: number) => Number((ms / pairs.length).toFixed(1));
  return {
    seconds: (performance.now() - started) / 1000,
    stepMs: { create: mean(spent.create), accountPush: Number((spent.accountPush / tenants.length).toFixed(1)), enable: mean(spent.enable), statusPatch: mean(spent.statusPatch) },
  };
}

/** The operator would otherwise find the floor's instances, in namespaces of no Collectivity, and work on them. */
async function removeFloorInstances(client: KubeClient, tenants: Tenant[]): Promise<void> {
  const pairs = tenants.flatMap((t) => services.map((service) => ({ namespace: tenantNamespace(t.name), service })));
  await pool(pairs, concurrency, ({ namespace, service }) => client.delete(resourceTypes.ServiceInstance, service, namespace));
  const left = (await client.list(resourceTypes.ServiceInstance, { labelSelector: `${runLabel}=floor` })).items.length;
  if (left > 0) throw new Error(`${left} floor ServiceInstances are still there after deletion`);
}

// The run ------------------------------------------------------------------------------------

/**
 * A user of the platform services account with every right, for the bench's shared deployments
 * (actes and the tenancy-only stand-ins, which have no user of their own): made from the
 * account's keys as the operator keeps them.
 */
async function sharedServicesCreds(kc: KubeConfig, config: PlatformConfig): Promise<string> {
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: servicesKeysSecret, namespace: platformNamespace });
  const account = fromSeed(Buffer.from(secret.data!.accountSeed!, "base64"));
  const file = join(config.dir, "services.creds");
  writeFileSync(file, await userCreds("bench-services", account), { mode: 0o600 });
  return file;
}

async function operatorMetrics(env: PlatformEnv): Promise<string> {
  return (await fetch(`${env.OPERATOR_URL}/metrics`)).text();
}

/** The API server's request counters, by verb and resource (subresource included), writes only. */
async function apiServerWrites(config: PlatformConfig): Promise<Map<string, number>> {
  const { stdout } = await promisify(execFile)(layout(config).bin("kubectl"), ["--kubeconfig", layout(config).kubeconfig, "get", "--raw", "/metrics"], { maxBuffer: 64 * 1024 * 1024 });
  const writes = new Map<string, number>();
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const label = (name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? "";
    const verb = label("verb");
    if (!["POST", "PUT", "PATCH", "APPLY", "DELETE"].includes(verb)) continue;
    const key = `${verb} ${label("resource")}${label("subresource") ? `/${label("subresource")}` : ""}`;
    writes.set(key, (writes.get(key) ?? 0) + Number(line.split(" ").at(-1)));
  }
  return writes;
}

/** What changed between two readings of apiServerWrites, largest first. */
function writesBetween(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta = [...after].map(([key, value]) => [key, value - (before.get(key) ?? 0)] as const).filter(([, value]) => value > 0);
  return Object.fromEntries(delta.sort((a, b) => b[1] - a[1]));
}

/** What the operator did between two scrapes of its metrics. */
function operatorWork(before: string, after: string) {
  const delta = (prefix: string, label?: string) => sumSamples(after, prefix, label) - sumSamples(before, prefix, label);
  const requests = (method: string) => delta("rest_client_requests_total{", `method="${method}"`);
  return {
    serviceInstanceReconciles: delta('controller_runtime_reconcile_total{controller="serviceinstance"'),
    collectivityReconciles: delta('controller_runtime_reconcile_total{controller="collectivity"'),
    reconcileSeconds: Number(delta("controller_runtime_reconcile_time_seconds_sum").toFixed(1)),
    apiRequests: delta("rest_client_requests_total{"),
    apiCreates: requests("POST"),
    apiPatches: requests("PATCH"),
    apiPuts: requests("PUT"),
    cpuSeconds: Number(delta("process_cpu_seconds_total").toFixed(1)),
  };
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, MUTUALIS_LOCAL_DIR: ".local/bench-services", MUTUALIS_PORT_OFFSET: process.env.BENCH_PORT_OFFSET ?? "5000", MUTUALIS_UNSAFE_FAST_STORAGE: "1", MUTUALIS_WITH_OPERATOR: "0" });
  await down(config);
  // Every run measures a fresh cluster.
  rmSync(config.dir, { recursive: true, force: true });
  const env = platformEnv(config);
  const operatorDaemon = benchOperator(config, concurrency);
  const running: RunningService[] = [];
  /** Connections to close before the platform stops, last opened first. */
  const connections: { close(): unknown }[] = [];
  const instances = count * services.length;
  try {
    // Inside the try: a platform that fails half-way through starting is stopped too.
    console.log(`bench: starting a platform of its own in ${config.dir}`);
    await up(config);
    const kc = new KubeConfig();
    kc.loadFromFile(env.KUBECONFIG);
    const client = KubeClient.fromKubeConfig(kc);
    connections.push(client);
    const nats = new NatsAccounts(env.NATS_URL, fromSeed(readFileSync(env.NATS_OPERATOR_SEED_FILE)), readFileSync(env.NATS_SYSTEM_CREDS));
    connections.push(nats);
    // The platform services account, set up as the operator does it (it finds the same keys when it starts).
    for (const object of platformObjects(platformNamespace, config.zones.map((z) => z.name))) await client.apply(object, fieldManager);
    await ensurePlatformServices(client, nats, platformNamespace);
    await startSharedServices(env, await sharedServicesCreds(kc, config), running);

    const floorTenants = Array.from({ length: count }, (_, i) => tenant("floor", i));
    console.log(`bench: floor — preparing ${count} tenants (namespace, quota, NATS account), not measured`);
    const keys = await prepareFloor(client, nats, env, floorTenants);
    console.log(`bench: floor — a plain client enabling ${services.join(", ")} for each of them, ${instances} ServiceInstances ${concurrency} at a time`);
    const cpuBefore = process.cpuUsage();
    const { seconds: floorSeconds, stepMs } = await floor(client, nats, env, floorTenants, keys);
    const floorCpu = process.cpuUsage(cpuBefore);
    // The shared services' share is in it too: they run in this process.
    const floorCpuSeconds = Number(((floorCpu.user + floorCpu.system) / 1e6).toFixed(1));
    console.log(`bench: floor done in ${floorSeconds.toFixed(1)}s`);
    await removeFloorInstances(client, floorTenants);

    startDaemon(operatorDaemon);
    await waitForOperator(config);
    const tenants = Array.from({ length: count }, (_, i) => tenant("bench", i));
    console.log(`bench: operator — ${count} Collectivities created ${concurrency} at a time, until all are Ready (not the measure)`);
    const collectivitiesStarted = performance.now();
    await pool(tenants.map((t, i) => collectivity("operator", t, i)), concurrency, (c) => client.create(resourceTypes.Collectivity, c));
    await waitUntilReady(client, resourceTypes.Collectivity, "operator", count);
    const collectivitiesSeconds = (performance.now() - collectivitiesStarted) / 1000;
    const pid = runningPid(operatorDaemon)!;
    const peakBeforeMiB = peakMemoryMiB(pid);
    const before = await operatorMetrics(env);
    const writesBefore = await apiServerWrites(config);

    console.log(`bench: operator — ${instances} ServiceInstances created ${concurrency} at a time, until all are Ready`);
    const started = performance.now();
    const pairs = tenants.flatMap((t) => services.map((service) => serviceInstance("operator", t.name, service)));
    await pool(pairs, concurrency, (instance) => client.create(resourceTypes.ServiceInstance, instance));
    await waitUntilReady(client, resourceTypes.ServiceInstance, "operator", instances);
    const seconds = (performance.now() - started) / 1000;
    console.log(`bench: operator done in ${seconds.toFixed(1)}s`);
    const work = operatorWork(before, await operatorMetrics(env));
    // Every client's, the bench's 3N creates included; only the operator writes besides.
    const apiServerWritesDuringInstances = writesBetween(writesBefore, await apiServerWrites(config));

    const perInstanceMs = (total: number) => Number(((total * 1000) / instances).toFixed(1));
    const result = {
      tenants: count,
      services,
      serviceInstances: instances,
      concurrency,
      floorSeconds: Number(floorSeconds.toFixed(2)),
      floorMsPerInstance: perInstanceMs(floorSeconds),
      floorStepLatencyMs: stepMs,
      floorCpuSeconds,
      operatorSeconds: Number(seconds.toFixed(2)),
      operatorMsPerInstance: perInstanceMs(seconds),
      ratio: Number((seconds / floorSeconds).toFixed(2)),
      collectivitiesReadySeconds: Number(collectivitiesSeconds.toFixed(1)),
      operatorPeakMemoryMiB: { beforeServiceInstances: Number(peakBeforeMiB.toFixed(1)), end: Number(peakMemoryMiB(pid).toFixed(1)) },
      work,
      apiServerWritesDuringInstances,
    };
    saveResult(config, `service-instances-${count}.json`, result);
    console.log("");
    console.log(`Shared ServiceInstances until Ready, ${count} tenants × ${services.length} services = ${instances}, concurrency ${concurrency}:`);
    console.log(`  floor (plain client: create, NATS account push, enable request, status patch): ${result.floorSeconds}s, ${result.floorMsPerInstance} ms per instance`);
    console.log(
      `    mean latency of its steps: create ${stepMs.create} ms, account push ${stepMs.accountPush} ms, enable ${stepMs.enable} ms, status patch ${stepMs.statusPatch} ms; ` +
        `${floorCpuSeconds}s of CPU in this process (client and shared services)`,
    );
    console.log(`  operator (first create → all Ready):                                           ${result.operatorSeconds}s, ${result.operatorMsPerInstance} ms per instance   ratio ${result.ratio}× the floor`);
    console.log(`  operator peak memory (VmHWM): ${result.operatorPeakMemoryMiB.beforeServiceInstances} MiB once the Collectivities were Ready (in ${result.collectivitiesReadySeconds}s), ${result.operatorPeakMemoryMiB.end} MiB at the end`);
    console.log(
      `  operator work for the instances: ${work.serviceInstanceReconciles} ServiceInstance and ${work.collectivityReconciles} Collectivity reconciles (${work.reconcileSeconds}s in total), ` +
        `${work.apiRequests} API requests (${work.apiCreates} creates, ${work.apiPatches} patches, ${work.apiPuts} puts), ${work.cpuSeconds}s of CPU`,
    );
    console.log(`  API server writes meanwhile (the bench's creates included): ${Object.entries(apiServerWritesDuringInstances).map(([key, n]) => `${key} ${n}`).join(", ")}`);
  } finally {
    await stopDaemon(operatorDaemon);
    for (const service of running.reverse()) await service.stop();
    for (const connection of connections.reverse()) await connection.close();
    await down(config);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
