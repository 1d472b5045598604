/**
 * Benchmark: N Collectivities (BENCH_COLLECTIVITIES, default 200; up to ~1,500, every authority
 * in Brittany) until all are Ready, against a floor measured in the same run: a plain client
 * doing the same work per tenant with the same concurrency and no operator (the child objects,
 * a NATS account signed and pushed to the resolver, a database with its own role). The operator
 * runs compiled, as the image ships it. Also its peak memory and its API writes per minute while
 * idle after convergence.
 *
 * It runs on a platform of its own (.local/bench, ports +3000), started and stopped here, and
 * started afresh between the floor and the operator: each meets an empty platform.
 */
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { createAccount, down, ensureOperatorIdentity, layout, platformEnv, pushAccountJwt, runningPid, signAccount, startDaemon, stopDaemon, type Daemon, type PlatformConfig } from "@mutualis/local-platform";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import { sirenWithCheckDigit } from "@mutualis/api";
import { Databases, newDatabaseRole, renderTenant, tenantDatabase } from "@mutualis/operator";
import { benchOperator, freshBenchPlatform, peakMemoryMiB, pool, saveResult, sumSamples, waitForOperator } from "./support.ts";

const count = Number(process.env.BENCH_COLLECTIVITIES ?? 200);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
/** BENCH_SKIP_FLOOR=1: the operator alone, for its memory and work (no ratio is reported then). */
const skipFloor = process.env.BENCH_SKIP_FLOOR === "1";

function siren(i: number): string {
  return sirenWithCheckDigit(`2${String(i).padStart(7, "0")}`);
}

function collectivity(prefix: string, i: number): KubernetesObject & { spec: Record<string, unknown> } {
  return {
    apiVersion: "mutualis.fr/v1alpha1",
    kind: "Collectivity",
    metadata: { name: `${prefix}-${i}`, uid: "00000000-0000-0000-0000-000000000000" },
    spec: { displayName: `Commune ${i}`, siren: siren(i), category: "commune", population: 1000 + i * 37, zone: i % 2 ? "fr-bzh-1a" : "fr-bzh-1b" },
  };
}

async function floor(api: KubernetesObjectApi, config: PlatformConfig): Promise<{ seconds: number; writes: number }> {
  const env = platformEnv(config);
  const tenants = Array.from({ length: count }, (_, i) => collectivity("floor", i));
  const natsOperator = await ensureOperatorIdentity(layout(config).nats);
  const system = await connect({ servers: env.NATS_URL, authenticator: credsAuthenticator(readFileSync(env.NATS_SYSTEM_CREDS)) });
  const databases = new Databases({ uri: env.MONGODB_URI, postgresUrl: env.DATABASE_ADMIN_URL });
  let writes = 0;
  const started = performance.now();
  await pool(tenants, concurrency, async (tenant) => {
    const name = tenant.metadata!.name!;
    // The tenant's NATS account, signed and pushed to the resolver; its database and role.
    await pushAccountJwt(system, await signAccount(natsOperator, `coll-${name}`, createAccount()));
    await databases.ensure(tenantDatabase(name), newDatabaseRole("tenant"), { collectivity: name });
    const objects = renderTenant(tenant as never, { platformNamespace: "mutualis-system", natsPort: 4222, databasePort: 27017 }, {
      natsUrl: env.NATS_URL,
      natsCreds: new TextEncoder().encode("-----BEGIN NATS USER JWT-----\nbench\n------END NATS USER JWT------\n"),
      databaseUri: env.MONGODB_URI,
      database: tenantDatabase(tenant.metadata!.name!),
    });
    for (const object of objects) {
      // No owner: the floor has no Collectivity objects.
      delete object.metadata.ownerReferences;
      await api.create(object as KubernetesObject);
      writes++;
    }
  });
  const seconds = (performance.now() - started) / 1000;
  await system.close();
  await databases.close();
  return { seconds, writes };
}

const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

async function metric(url: string, name: string, method: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) && l.includes(`method="${method}"`))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

/** A client of the bench platform's API server, as the platform's administrator. */
function apiClient(config: PlatformConfig): KubernetesObjectApi {
  const kc = new KubeConfig();
  kc.loadFromFile(platformEnv(config).KUBECONFIG);
  return KubernetesObjectApi.makeApiClient(kc);
}

async function main(): Promise<void> {
  const dir = ".local/bench";
  const portOffset = process.env.BENCH_PORT_OFFSET ?? "3000";
  let config = await freshBenchPlatform(dir, portOffset);
  let operatorDaemon: Daemon | undefined;
  try {
    let baseline = { seconds: Number.NaN, writes: 0 };
    if (skipFloor) console.log("bench: floor skipped (BENCH_SKIP_FLOOR=1): no ratio");
    else {
      console.log(`bench: floor — a plain client creating the child objects of ${count} tenants, ${concurrency} at a time`);
      baseline = await floor(apiClient(config), config);
      console.log(`bench: floor done in ${baseline.seconds.toFixed(1)}s (${baseline.writes} objects)`);
      // The operator on an empty platform, as the floor had: its caches, the API server, the
      // database's catalog and the NATS resolver would otherwise also hold the floor's tenants.
      config = await freshBenchPlatform(dir, portOffset);
    }
    const env = platformEnv(config);
    const api = apiClient(config);
    operatorDaemon = benchOperator(config, concurrency);

    startDaemon(operatorDaemon);
    await waitForOperator(config);
    console.log(`bench: operator — ${count} Collectivities created ${concurrency} at a time, until all are Ready`);
    const started = performance.now();
    const tenants = Array.from({ length: count }, (_, i) => collectivity("bench", i));
    await pool(tenants, concurrency, async (tenant) => {
      const { uid: _uid, ...metadata } = tenant.metadata!;
      await api.create({ ...tenant, metadata });
    });
    let ready = 0;
    while (ready < count) {
      await new Promise((r) => setTimeout(r, 250));
      const list = await api.list<KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }>("mutualis.fr/v1alpha1", "Collectivity");
      ready = list.items.filter((c) => c.status?.conditions?.some((k) => k.type === "Ready" && k.status === "True")).length;
      if ((performance.now() - started) / 1000 > 1800) throw new Error(`only ${ready}/${count} Ready after 30 minutes`);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`bench: operator done in ${seconds.toFixed(1)}s`);

    const pid = runningPid(operatorDaemon)!;
    const metricsText = await (await fetch(`${env.OPERATOR_URL}/metrics`)).text();
    const sum = (prefix: string) => sumSamples(metricsText, prefix);
    const work = {
      reconciles: sum('controller_runtime_reconcile_total{controller="collectivity"'),
      reconcileSeconds: Number(sum("controller_runtime_reconcile_time_seconds_sum").toFixed(1)),
      apiRequests: sum("rest_client_requests_total"),
      apiWrites: ["POST", "PUT", "PATCH", "DELETE"].reduce((t, m) => t + sum(`rest_client_requests_total{method="${m}"`), 0),
      cpuSeconds: Number(sum("process_cpu_seconds_total").toFixed(1)),
    };
    await new Promise((r) => setTimeout(r, 5000));
    const writeMethods = ["POST", "PATCH", "DELETE", "PUT"];
    const before = await Promise.all(writeMethods.map((m) => metric(env.OPERATOR_URL, "rest_client_requests_total", m)));
    console.log(`bench: measuring API writes while idle for ${idleSeconds}s`);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const after = await Promise.all(writeMethods.map((m) => metric(env.OPERATOR_URL, "rest_client_requests_total", m)));
    const perMinute = (i: number) => ((after[i]! - before[i]!) * 60) / idleSeconds;
    const result = {
      collectivities: count,
      concurrency,
      floorSeconds: Number(baseline.seconds.toFixed(2)),
      floorObjects: baseline.writes,
      operatorSeconds: Number(seconds.toFixed(2)),
      ratio: Number((seconds / baseline.seconds).toFixed(2)),
      operatorPeakMemoryMiB: Number(peakMemoryMiB(pid).toFixed(1)),
      // Where the memory is once every Collectivity is Ready: V8's heap (used of allocated) and
      // the rest of the process (code, buffers, Node.js itself).
      operatorMemoryWhenReadyMiB: {
        resident: mib(sum("process_resident_memory_bytes")),
        heapUsed: mib(sum("nodejs_heap_size_used_bytes")),
        heapTotal: mib(sum("nodejs_heap_size_total_bytes")),
        external: mib(sum("nodejs_external_memory_bytes")),
      },
      work,
      idleWritesPerMinute: { create: perMinute(0), patch: perMinute(1), delete: perMinute(2), leaseRenewals: perMinute(3) },
    };
    saveResult(config, `collectivities-${count}${skipFloor ? "-operator-only" : ""}.json`, result);
    console.log("");
    console.log(`Collectivities until Ready, N=${count}, concurrency ${concurrency}:`);
    console.log(`  floor (plain client: same ${baseline.writes} child objects, NATS accounts, database roles): ${result.floorSeconds}s`);
    console.log(`  operator (create → all Ready):                   ${result.operatorSeconds}s   ratio ${result.ratio}× the floor`);
    console.log(`  operator peak memory (VmHWM):                    ${result.operatorPeakMemoryMiB} MiB`);
    const whenReady = result.operatorMemoryWhenReadyMiB;
    console.log(`  operator memory once Ready:                      ${whenReady.resident} MiB resident, heap ${whenReady.heapUsed} MiB used of ${whenReady.heapTotal} MiB, ${whenReady.external} MiB external`);
    console.log(
      `  operator work: ${work.reconciles} reconciles (${work.reconcileSeconds}s in total), ${work.apiRequests} API requests ` +
        `(${work.apiWrites} writes), ${work.cpuSeconds}s of CPU`,
    );
    console.log(
      `  API writes/min while idle: ${result.idleWritesPerMinute.create} create, ${result.idleWritesPerMinute.patch} patch, ` +
        `${result.idleWritesPerMinute.delete} delete; ${result.idleWritesPerMinute.leaseRenewals} lease renewals (PUT)`,
    );
  } finally {
    if (operatorDaemon) await stopDaemon(operatorDaemon);
    await down(config);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
