import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { CoordinationV1Api, CoreV1Api, KubernetesObjectApi } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import {
  collectivityManifest,
  deleteCollectivity,
  metricsText,
  metricValue,
  readCollectivity,
  sirenFrom,
  startTestOperator,
  waitForGone,
  waitForReady,
} from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const objects = KubernetesObjectApi.makeApiClient(kc);
const running = new Set<RunningOperator>();
const created: string[] = [];

async function start(options: Parameters<typeof startTestOperator>[0] = {}): Promise<RunningOperator> {
  const operator = await startTestOperator(options);
  running.add(operator);
  return operator;
}

async function stop(operator: RunningOperator): Promise<void> {
  await operator.stop();
  running.delete(operator);
}

async function create(name: string, eightDigits: string): Promise<void> {
  created.push(name);
  await objects.create(collectivityManifest({ name, siren: sirenFrom(eightDigits) }));
}

/** Requests that change something (anything but GET), as the operator's own metric counts them. */
function writes(text: string): number {
  return ["POST", "PUT", "PATCH", "DELETE"].reduce((sum, method) => sum + metricValue(text, "rest_client_requests_total", { method }), 0);
}

describe("the operator's runtime", () => {
  afterAll(async () => {
    const cleaner = running.size > 0 ? undefined : await start({ leaderElection: false });
    for (const name of created) await deleteCollectivity(kc, name);
    for (const name of created) await waitForGone(kc, name);
    if (cleaner) await stop(cleaner);
    for (const operator of running) await operator.stop();
  });

  it("when two replicas run, then one leads; when it stops, it gives up the lease and the other takes over", async () => {
    const first = await start();
    await eventually("a leader", async () => (first.manager.isLeader ? true : undefined), 30_000);
    const second = await start();
    await new Promise((r) => setTimeout(r, 3000));
    expect([first.manager.isLeader, second.manager.isLeader]).toEqual([true, false]);
    expect(metricValue(await metricsText(first), "leader_election_master_status")).toBe(1);
    expect(metricValue(await metricsText(second), "leader_election_master_status")).toBe(0);

    await create("t-leader-a", "21350010");
    await waitForReady(kc, "t-leader-a");
    expect(metricValue(await metricsText(second), "controller_runtime_reconcile_total")).toBe(0);

    await stop(first);
    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: "mutualis-operator", namespace: "mutualis-system" });
    expect(lease.spec?.holderIdentity).not.toBe(first.manager.identity);
    await eventually("the standby to take over", async () => (second.manager.isLeader ? true : undefined), 30_000);
    await create("t-leader-b", "21350020");
    await waitForReady(kc, "t-leader-b");
    expect(metricValue(await metricsText(second), "controller_runtime_reconcile_total", { result: "success" })).toBeGreaterThan(0);
    await stop(second);
  });

  it("when the operator is stopped mid-way and started again, then every tenant converges once, with no duplicate and no orphan", async () => {
    const names = ["t-restart-1", "t-restart-2", "t-restart-3", "t-restart-4", "t-restart-5", "t-restart-6"];
    const first = await start({ leaderElection: false, workers: 2 });
    for (const [i, name] of names.entries()) await create(name, `2135003${i}`);
    await new Promise((r) => setTimeout(r, 300));
    await stop(first);

    const second = await start({ leaderElection: false });
    for (const name of names) await waitForReady(kc, name);
    for (const name of names) {
      const object = await readCollectivity(kc, name);
      const namespace = `coll-${name}`;
      const secrets = (await core.listNamespacedSecret({ namespace })).items.map((s) => s.metadata?.name).sort();
      expect(secrets).toEqual(["database", "nats-credentials"]);
      const keys = await core.listNamespacedSecret({ namespace: "mutualis-system", labelSelector: `mutualis.fr/collectivity=${name}` });
      expect(keys.items.map((s) => s.metadata?.name)).toEqual([`tenant-keys-${name}`]);
      expect(object.metadata?.finalizers).toEqual(["mutualis.fr/tenant-cleanup"]);
    }
    const namespaces = (await core.listNamespace({ labelSelector: "mutualis.fr/collectivity" })).items.map((n) => n.metadata?.labels?.["mutualis.fr/collectivity"]);
    expect(new Set(namespaces).size).toBe(namespaces.length);
    await stop(second);
  });

  it("when everything has converged, then the operator writes nothing while idle, resyncs included", async () => {
    const operator = await start({ leaderElection: false, resyncSeconds: 10 });
    await create("t-idle", "21350040");
    await waitForReady(kc, "t-idle");
    await new Promise((r) => setTimeout(r, 2000));
    const before = await metricsText(operator);
    await new Promise((r) => setTimeout(r, 12_000));
    const after = await metricsText(operator);
    expect(metricValue(after, "controller_runtime_reconcile_total")).toBeGreaterThan(metricValue(before, "controller_runtime_reconcile_total"));
    expect(writes(after) - writes(before)).toBe(0);
    await stop(operator);
  });

  it("when the operator process gets SIGTERM, then it finishes its work, releases the lease and exits 0", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "operator/src/main.ts"], {
      cwd: platform.config.root,
      env: {
        ...process.env,
        ...platform.env,
        OPERATOR_HTTP_PORT: "0",
        OPERATOR_HTTP_HOST: "127.0.0.1",
        MUTUALIS_NATS_PORT: String(platform.config.ports.nats),
        MUTUALIS_DATABASE_PORT: String(platform.config.ports.ferretdb),
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const messages: string[] = [];
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        messages.push((JSON.parse(line) as { msg: string }).msg);
      } catch {
        messages.push(line);
      }
    });
    const exited = new Promise<number | null>((resolvePromise) => child.on("exit", (code) => resolvePromise(code)));
    await eventually("the process to lead", async () => (messages.includes("became leader") ? true : undefined), 60_000);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(messages).toEqual(expect.arrayContaining(["signal received", "released the lease", "stopped"]));
    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: "mutualis-operator", namespace: "mutualis-system" });
    expect(lease.spec?.holderIdentity ?? "").toBe("");
  });

  it("when /metrics is scraped, then the controller-runtime names and the Mutualis gauges are there", async () => {
    const operator = await start({ leaderElection: true });
    await create("t-metrics", "21350050");
    await waitForReady(kc, "t-metrics");
    const text = await metricsText(operator);
    for (const name of [
      "controller_runtime_reconcile_total",
      "controller_runtime_reconcile_errors_total",
      "controller_runtime_reconcile_time_seconds_bucket",
      "workqueue_depth",
      "workqueue_adds_total",
      "workqueue_retries_total",
      "leader_election_master_status",
      "mutualis_collectivities",
      "mutualis_tenants",
      "process_resident_memory_bytes",
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}[{ ]`, "m"));
    }
    expect(metricValue(text, "mutualis_tenants", { zone: "fr-bzh-1a" })).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${operator.manager.port}/readyz`);
    expect(health.status).toBe(200);
    await stop(operator);
  });
});
