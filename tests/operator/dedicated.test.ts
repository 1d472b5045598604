import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantDatabase, type RunningOperator } from "@mutualis/operator";
import { eventStream, type RunningService } from "@mutualis/service-kit";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { platformServicesCreds, startSharedActes, startTestGateway } from "../support/services.ts";
import { reserveTestIdentity, startTestIdentity, type TestIdentity } from "../support/identity.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const objects = KubernetesObjectApi.makeApiClient(kc);
const si = { group: "mutualis.fr", version: "v1alpha1", plural: "serviceinstances" };
const agentNode = platform.config.zones.find((z) => z.runner === "agent")!.node;
let operator: RunningOperator;
let gatewayService: RunningService;
let identity: TestIdentity;
const token = (email: string, collectivity: string) => identity.tokenFor(email, { [collectivity]: ["agent"] });
const running: RunningService[] = [];
const connections: NatsConnection[] = [];

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

async function readyCondition(namespace: string, name: string): Promise<Condition | undefined> {
  const object = (await custom.getNamespacedCustomObject({ ...si, namespace, name })) as { status?: { conditions?: Condition[] } };
  return object.status?.conditions?.find((c) => c.type === "Ready");
}

async function waitForInstance(namespace: string, name: string, status: string, reason: string, timeoutMs = 90_000): Promise<Condition> {
  let last: Condition | undefined;
  try {
    return await eventually(`ServiceInstance ${namespace}/${name} Ready=${status} (${reason})`, async () => {
      last = await readyCondition(namespace, name);
      return last?.status === status && last.reason === reason ? last : undefined;
    }, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last Ready condition: ${JSON.stringify(last)}`, { cause: error });
  }
}

async function podsOf(namespace: string, instance: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${instance}` })).items;
}

/** The one ready pod of an instance. */
async function readyPod(namespace: string, instance: string): Promise<V1Pod> {
  return eventually(`a ready pod of ${namespace}/${instance}`, async () => {
    const pods = (await podsOf(namespace, instance)).filter((p) => !p.metadata?.deletionTimestamp);
    return pods.length === 1 && pods[0]!.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? pods[0] : undefined;
  }, 90_000);
}

const pidOf = (pod: V1Pod) => Number(pod.status?.containerStatuses?.[0]?.containerID?.replace("local://", ""));
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");

async function api(method: string, path: string, bearer: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gatewayService.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function tenantConnection(collectivity: string): Promise<NatsConnection> {
  const secret = await core.readNamespacedSecret({ name: "nats-credentials", namespace: `coll-${collectivity}` });
  const nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(Buffer.from(secret.data!["user.creds"]!, "base64")) });
  connections.push(nc);
  return nc;
}

describe("dedicated tenancy: service pods run by the local node agent", () => {
  beforeAll(async () => {
    const reserved = await reserveTestIdentity();
    // The operator tells dedicated deployments which issuer's tokens to verify.
    operator = await startTestOperator({ env: reserved.operatorEnv });
    await objects.create(collectivityManifest({ name: "t-ded-a", siren: sirenFrom("21350031"), zone: "fr-bzh-1a" }));
    await objects.create(collectivityManifest({ name: "t-ded-b", siren: sirenFrom("21350032"), zone: "fr-bzh-1a" }));
    await waitForReady(kc, "t-ded-a");
    await waitForReady(kc, "t-ded-b");
    const creds = await platformServicesCreds();
    // The prefecture simulator and the shared actes deployment, as the platform runs them.
    identity = await startTestIdentity(creds, "ded_identity", [], {}, reserved);
    running.push(...(await startSharedActes(creds, "ded", identity.verifierSettings)));
    gatewayService = await startTestGateway(creds, "ded", identity.verifierSettings);
    running.push(gatewayService);
    await custom.createNamespacedCustomObject({
      ...si,
      namespace: "coll-t-ded-a",
      body: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: "actes" }, spec: { service: "actes", tenancy: "dedicated", plan: "small" } },
    });
  });

  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    for (const service of running.reverse()) await service.stop();
    await identity?.stop();
    await deleteCollectivity(kc, "t-ded-a");
    await deleteCollectivity(kc, "t-ded-b");
    await waitForGone(kc, "t-ded-a");
    await waitForGone(kc, "t-ded-b");
    await operator.stop();
  });

  it("when a collectivity asks for actes dedicated, then its pod runs as a local process on its own address, and the instance becomes Ready", async () => {
    await waitForInstance("coll-t-ded-a", "actes", "True", "Ready");
    const pod = await readyPod("coll-t-ded-a", "actes");
    expect(pod.spec?.nodeName).toBe(agentNode);
    expect(pod.status?.podIP).toMatch(/^127\.[0-9]+\.[0-9]+\.[0-9]+$/);
    const pid = pidOf(pod);
    expect(alive(pid)).toBe(true);
    // Its environment was resolved from the pod spec: values, Secret keys, the pod's own address.
    const environ = new Map(
      readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .filter(Boolean)
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    expect(environ.get("TENANT")).toBe("t-ded-a");
    expect(environ.get("HTTP_HOST")).toBe(pod.status?.podIP);
    expect(environ.get("MONGODB_DATABASE")).toBe(tenantDatabase("t-ded-a"));
    expect(environ.get("NATS_URL")).toBe(platform.env.NATS_URL);
    // The creds Secret is mounted as a file in the pod's directory, not in the environment.
    expect(readFileSync(environ.get("NATS_CREDS_FILE")!, "utf8")).toContain("NATS USER JWT");
    // Readiness on its internal port; the service's port serves the API only.
    expect((await fetch(`http://${pod.status?.podIP}:9464/readyz`)).status).toBe(200);
    expect((await fetch(`http://${pod.status?.podIP}:8080/readyz`)).status).toBe(404);
  });

  it("when an agent of the collectivity submits an act through the gateway, then the dedicated deployment transmits it and it is acknowledged, stored in the collectivity's own database", async () => {
    await waitForInstance("coll-t-ded-a", "actes", "True", "Ready");
    const agent = await token("agent@ded-a.test", "t-ded-a");
    // Its annex uploaded in parts, to the object store of the collectivity's own account.
    const annex = Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.alloc(1_500_000, 7)]);
    const upload = await api("POST", "/api/v1/tenants/t-ded-a/actes/uploads.start", agent, { fileName: "annexe.pdf", mimeType: "application/pdf", size: annex.length, sha256: createHash("sha256").update(annex).digest("hex") });
    expect(upload.status).toBe(200);
    const { id, chunkBytes } = upload.body as { id: string; chunkBytes: number };
    for (let index = 0; index * chunkBytes < annex.length; index++) {
      expect((await api("POST", "/api/v1/tenants/t-ded-a/actes/uploads.chunk", agent, { id, index, contentBase64: annex.subarray(index * chunkBytes, (index + 1) * chunkBytes).toString("base64") })).status).toBe(200);
    }
    expect((await api("POST", "/api/v1/tenants/t-ded-a/actes/uploads.finish", agent, { id })).body.state).toBe("complete");
    const submitted = await api("POST", "/api/v1/tenants/t-ded-a/actes/submit", agent, {
      numeroInterne: "DED_2026_001",
      nature: 1,
      classification: "7.1",
      objet: "Budget primitif",
      date: "2026-11-20",
      document: { fileName: "deliberation.pdf", mimeType: "application/pdf", contentBase64: Buffer.from("%PDF-1.7\n%%EOF\n").toString("base64") },
      annexes: [{ upload: id }],
    });
    expect(submitted.status).toBe(200);
    const acknowledged = await eventually("the act to be acknowledged", async () => {
      const act = await api("GET", `/api/v1/tenants/t-ded-a/actes/get?id=${String(submitted.body.id)}`, agent);
      return act.body.status === "acknowledged" ? act.body : undefined;
    });
    expect(acknowledged.identifier).toMatch(/^035-[0-9]{9}-20261120-DED_2026_001-DE$/);
    // What the dedicated deployment did reaches the platform's events stream, from the collectivity's account.
    const platformNats = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(readFileSync((await platformServicesCreds()).client)) });
    connections.push(platformNats);
    const jsm = await jetstreamManager(platformNats);
    // The annex is not in the platform's account: the platform's bucket, if any, has no object of the collectivity's.
    const platformFiles = await jsm.streams.getMessage("OBJ_ACTES_FILES", { last_by_subj: `$O.ACTES_FILES.M.${Buffer.from(`t-ded-a/uploads/${id}`).toString("base64").replaceAll("+", "-").replaceAll("/", "_")}` }).catch(() => null);
    expect(platformFiles).toBeNull();
    for (const event of ["submitted", "acknowledged"]) {
      const stored = await eventually(`the ${event} event in the platform's stream`, () => jsm.streams.getMessage(eventStream.name, { last_by_subj: `events.t-ded-a.actes.${event}` }).then((m) => m ?? undefined, () => undefined));
      expect(stored.json<{ id: string; value: number }>()).toMatchObject({ id: String(submitted.body.id), value: 1 });
    }
    const mongo = await MongoClient.connect(platform.env.MONGODB_URI);
    try {
      expect(await mongo.db(tenantDatabase("t-ded-a")).collection("acts").countDocuments({ numeroInterne: "DED_2026_001" })).toBe(1);
      expect(await mongo.db("ded_actes").collection("acts").countDocuments({ numeroInterne: "DED_2026_001" })).toBe(0);
    } finally {
      await mongo.close();
    }
  });

  it("when another collectivity tries, then the gateway refuses it and its NATS user cannot reach the dedicated service", async () => {
    const other = await token("agent@ded-b.test", "t-ded-b");
    expect((await api("GET", "/api/v1/tenants/t-ded-a/actes/list", other)).status).toBe(403);
    const nc = await tenantConnection("t-ded-b");
    await expect(nc.request("tenant.t-ded-a.actes.list", "{}", { timeout: 3000 })).rejects.toThrow(/permission|no responders|timeout/i);
    // Nor speak for it in the platform's counts: its user may publish the events of its own collectivity only.
    const refused = new Promise<string>((resolve) => {
      void (async () => {
        for await (const status of nc.status()) if (status.type === "error") resolve(String((status as { error?: unknown }).error));
      })();
    });
    nc.publish("events.t-ded-a.actes.submitted", JSON.stringify({ id: "forged", value: 1000, at: new Date().toISOString() }));
    expect(await refused).toMatch(/permissions violation for publish to "events\.t-ded-a\.actes\.submitted"/i);
  });

  it("when the service's process is killed by hand, then the node agent restarts it and the instance is Ready again", async () => {
    const before = await readyPod("coll-t-ded-a", "actes");
    const pid = pidOf(before);
    process.kill(pid, "SIGKILL");
    const restarted = await eventually("the container to be restarted", async () => {
      const pod = (await podsOf("coll-t-ded-a", "actes"))[0];
      const status = pod?.status?.containerStatuses?.[0];
      return status && status.restartCount >= 1 && status.ready && pidOf(pod) !== pid ? pod : undefined;
    }, 90_000);
    expect(restarted.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(137);
    expect(restarted.metadata?.uid).toBe(before.metadata?.uid);
    await waitForInstance("coll-t-ded-a", "actes", "True", "Ready");
  });

  it("when the version changes, then a new pod rolls out and the old process is stopped", async () => {
    const before = await readyPod("coll-t-ded-a", "actes");
    await custom.patchNamespacedCustomObject(
      { ...si, namespace: "coll-t-ded-a", name: "actes", body: { spec: { version: "0.2.0" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const after = await eventually("the new version's pod to be ready", async () => {
      const pods = (await podsOf("coll-t-ded-a", "actes")).filter((p) => p.spec?.containers[0]?.image?.endsWith(":0.2.0"));
      return pods.find((p) => p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True");
    }, 90_000);
    expect(after.metadata?.uid).not.toBe(before.metadata?.uid);
    await eventually("the old pod's process to stop", async () => (alive(pidOf(before)) ? undefined : true), 60_000);
    await eventually("the old pod to be removed", async () => ((await podsOf("coll-t-ded-a", "actes")).length === 1 ? true : undefined), 60_000);
    await waitForInstance("coll-t-ded-a", "actes", "True", "Ready");
  });

  it("when Prometheus looks for pods, then it discovers the dedicated pod through the API server and scrapes it", async () => {
    const pod = await readyPod("coll-t-ded-a", "actes");
    await eventually("Prometheus to scrape the pod", async () => {
      const body = (await (await fetch(`${platform.env.PROMETHEUS_URL}/api/v1/targets?scrapePool=mutualis-pods`)).json()) as {
        data: { activeTargets: { labels: Record<string, string>; health: string }[] };
      };
      return body.data.activeTargets.find((t) => t.labels.pod === pod.metadata?.name && t.labels.namespace === "coll-t-ded-a" && t.health === "up");
    }, 90_000);
    const query = await fetch(`${platform.env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent('up{job="mutualis-pods",namespace="coll-t-ded-a",service="actes"}')}`);
    const result = ((await query.json()) as { data: { result: { value: [number, string] }[] } }).data.result;
    expect(result.map((r) => r.value[1])).toContain("1");
  });

  it("when a service keeps crashing, then its pod backs off and the instance says it is crash-looping", async () => {
    // The services image has no helios yet: its entrypoint exits at once with a usage error.
    await custom.createNamespacedCustomObject({
      ...si,
      namespace: "coll-t-ded-b",
      body: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: "helios" }, spec: { service: "helios", tenancy: "dedicated", plan: "small" } },
    });
    const condition = await waitForInstance("coll-t-ded-b", "helios", "False", "CrashLooping");
    expect(condition.message).toContain("keep crashing");
    const status = (await podsOf("coll-t-ded-b", "helios"))[0]?.status?.containerStatuses?.[0];
    expect(status?.lastState?.terminated?.exitCode).toBe(64);
    expect(status?.restartCount).toBeGreaterThanOrEqual(1);
  });

  it("when a pod asks for an image the node cannot pull, then it waits with ErrImagePull or ImagePullBackOff", async () => {
    await core.createNamespacedPod({
      namespace: "coll-t-ded-b",
      body: {
        metadata: { name: "elsewhere" },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
          containers: [{ name: "web", image: "docker.io/library/nginx:1.27", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
        },
      },
    });
    const waiting = await eventually("the pod to wait for its image", async () => {
      const pod = await core.readNamespacedPod({ name: "elsewhere", namespace: "coll-t-ded-b" });
      const reason = pod.status?.containerStatuses?.[0]?.state?.waiting;
      return reason && /ErrImagePull|ImagePullBackOff/.test(reason.reason ?? "") ? reason : undefined;
    });
    expect(waiting.message).toContain("not available on this node");
    await core.deleteNamespacedPod({ name: "elsewhere", namespace: "coll-t-ded-b" });
  });

  it("when the instance is deleted, then its process stops gracefully, its pod goes, and the collectivity's subjects no longer answer", async () => {
    const pod = await readyPod("coll-t-ded-a", "actes");
    const pid = pidOf(pod);
    await custom.deleteNamespacedCustomObject({ ...si, namespace: "coll-t-ded-a", name: "actes" });
    await eventually("the process to stop", async () => (alive(pid) ? undefined : true), 60_000);
    await eventually("the pod to be removed", async () => ((await podsOf("coll-t-ded-a", "actes")).length === 0 ? true : undefined), 60_000);
    const agent = await token("agent@ded-a.test", "t-ded-a");
    const after = await api("GET", "/api/v1/tenants/t-ded-a/actes/list", agent);
    expect(after.status).toBeGreaterThanOrEqual(400);
  });
});
