import { randomBytes } from "node:crypto";
import { AppsV1Api, CoreV1Api, type V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGet } from "@mutualis/local-platform";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const namespace = `platform-test-${randomBytes(3).toString("hex")}`;

/** The Deployment's conditions, its pods' phases and nodes, the namespace's events and the nodes' readiness. */
async function rolloutReport(): Promise<string> {
  const d = await apps.readNamespacedDeployment({ name: "hello", namespace }).catch(() => undefined);
  const pods = (await core.listNamespacedPod({ namespace })).items;
  const events = (await core.listNamespacedEvent({ namespace })).items;
  const nodes = (await core.listNode()).items;
  return [
    `deployment: ${JSON.stringify(d?.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]))}`,
    ...pods.map((p) => `pod ${p.metadata?.name}: ${p.status?.phase} on ${p.spec?.nodeName ?? "no node"} ${JSON.stringify(p.status?.conditions?.map((c) => [c.type, c.status, c.reason]))}`),
    ...events.map((e) => `event: ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message}`),
    ...nodes.map((n) => `node ${n.metadata?.name}: ${JSON.stringify(n.status?.conditions?.find((c) => c.type === "Ready")?.status)} taints ${JSON.stringify(n.spec?.taints ?? [])}`),
  ].join("\n");
}

describe("the local control plane", () => {
  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it("when asked /readyz with the admin certificate, then the API server answers ok", async () => {
    const pki = `${platform.config.dir}/pki`;
    const answer = await httpGet(`${platform.env.KUBE_API_URL}/readyz`, {
      caFile: `${pki}/ca.crt`,
      client: { cert: `${pki}/admin.crt`, key: `${pki}/admin.key` },
    });
    expect(answer).toEqual({ status: 200, body: "ok" });
  });

  it("when the platform is up, then one Ready node per hosting zone carries its zone and region labels", async () => {
    const nodes = await core.listNode();
    const zoned = nodes.items
      .filter((n) => n.metadata?.labels?.["topology.kubernetes.io/zone"])
      .map((n) => ({
        zone: n.metadata?.labels?.["topology.kubernetes.io/zone"],
        region: n.metadata?.labels?.["topology.kubernetes.io/region"],
        ready: n.status?.conditions?.find((c) => c.type === "Ready")?.status,
      }))
      .sort((a, b) => String(a.zone).localeCompare(String(b.zone)));
    expect(zoned).toEqual([
      { zone: "fr-bzh-1a", region: "fr-bzh", ready: "True" },
      { zone: "fr-bzh-1b", region: "fr-bzh", ready: "True" },
    ]);
  });

  it("when a Deployment is applied to KWOK's nodes, then it becomes Available there, and deleting it collects its ReplicaSet and pods", async () => {
    const labels = { app: "hello" };
    const deployment: V1Deployment = {
      metadata: { name: "hello", namespace },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            // On the simulated nodes: the agent's node would try to run the image for real.
            nodeSelector: { type: "kwok" },
            containers: [{ name: "hello", image: "registry.invalid/hello:1" }],
          },
        },
      },
    };
    await apps.createNamespacedDeployment({ namespace, body: deployment });

    const available = await eventually("the Deployment to be Available", async () => {
      const d = await apps.readNamespacedDeployment({ name: "hello", namespace });
      const condition = d.status?.conditions?.find((c) => c.type === "Available");
      return condition?.status === "True" && d.status?.readyReplicas === 2 ? d : undefined;
    }, 120_000).catch(async (error: unknown) => {
      // What the cluster saw, so that a failure on a loaded machine says where the rollout stopped.
      throw new Error(`${String(error)}\n${await rolloutReport()}`);
    });
    expect(available.status?.availableReplicas).toBe(2);

    const pods = (await core.listNamespacedPod({ namespace, labelSelector: "app=hello" })).items;
    expect(pods.map((p) => p.status?.phase)).toEqual(["Running", "Running"]);
    const nodes = new Set(pods.map((p) => p.spec?.nodeName));
    expect(nodes).toEqual(new Set(platform.config.zones.filter((z) => z.runner === "kwok").map((z) => z.node)));

    await apps.deleteNamespacedDeployment({ name: "hello", namespace, propagationPolicy: "Background" });
    await eventually("the ReplicaSet and pods to be garbage-collected", async () => {
      const replicaSets = await apps.listNamespacedReplicaSet({ namespace });
      const remaining = await core.listNamespacedPod({ namespace });
      return replicaSets.items.length === 0 && remaining.items.length === 0 ? true : undefined;
    });
  });
});
