import { existsSync, readdirSync, readFileSync } from "node:fs";
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layout, listeningPids, portInUse, startComponent } from "@mutualis/local-platform";
import type { RunningOperator } from "@mutualis/operator";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const objects = KubernetesObjectApi.makeApiClient(kc);
const si = { group: "mutualis.fr", version: "v1alpha1", plural: "serviceinstances" };
const namespace = "coll-t-faults-agent";

const pidOf = (pod: V1Pod) => Number(pod.status?.containerStatuses?.[0]?.containerID?.replace("local://", ""));
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");

/** The processes running a pod of the services image (the node agent's pods), by pid. */
function podProcesses(): number[] {
  const pids = readdirSync("/proc").filter((name) => /^[0-9]+$/.test(name)).map(Number);
  return pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("services/image/src/entrypoint.ts") && alive(pid);
    } catch {
      return false;
    }
  });
}

async function readyPod(): Promise<V1Pod> {
  return eventually("a ready pod of the dedicated actes", async () => {
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/instance=actes" })).items.filter((p) => !p.metadata?.deletionTimestamp);
    return pods.length === 1 && pods[0]!.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? pods[0] : undefined;
  }, 120_000);
}

describe("faults: the node agent killed while it runs a collectivity's pod", () => {
  let operator: RunningOperator;

  beforeAll(async () => {
    operator = await startTestOperator();
    await objects.create(collectivityManifest({ name: "t-faults-agent", siren: sirenFrom("21350071"), zone: "fr-bzh-1a" }));
    await waitForReady(kc, "t-faults-agent");
    await custom.createNamespacedCustomObject({
      ...si,
      namespace,
      body: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: "actes" }, spec: { service: "actes", tenancy: "dedicated", plan: "small" } },
    });
  });

  afterAll(async () => {
    await deleteCollectivity(kc, "t-faults-agent");
    await waitForGone(kc, "t-faults-agent");
    await operator.stop();
  });

  it("when the node agent is killed with SIGKILL and started again, then the pod runs again and no process of it is left running unowned", async () => {
    const before = await readyPod();
    const pid = pidOf(before);
    expect(alive(pid)).toBe(true);

    const agentPid = Number(readFileSync(layout(platform.config).pid("node-agent"), "utf8").trim());
    process.kill(agentPid, "SIGKILL");
    await eventually("the node agent to be gone", async () => (alive(agentPid) ? undefined : true));
    const port = platform.config.ports.nodeAgent;
    await eventually(`port ${port} to be free (held by ${JSON.stringify(listeningPids(port))})`, async () => ((await portInUse(port)) ? undefined : true), 30_000);
    await startComponent(platform.config, "node-agent");

    // The pod is found again: it runs, once, under the agent that came back.
    const after = await eventually("the pod to run under the new agent", async () => {
      const pod = await readyPod();
      const running = pidOf(pod);
      return running && alive(running) && running !== pid ? pod : undefined;
    }, 120_000);
    expect(after.metadata?.uid).toBe(before.metadata?.uid);
    expect(alive(pid)).toBe(false);
    // Exactly one process of the services image runs for the pods the agent knows (this one).
    const mine = podProcesses().filter((p) => readFileSync(`/proc/${p}/environ`, "utf8").includes("TENANT=t-faults-agent"));
    expect(mine).toEqual([pidOf(after)]);
  });
});
