import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, PolicyV1Api, setHeaderOptions } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { encodeAccount, encodeActivation, encodeUser, fmtCreds } from "@nats-io/jwt";
import { createAccount, createUser, fromSeed } from "@nats-io/nkeys";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import type { RunningService } from "@mutualis/service-kit";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { platformServicesCreds, startSharedActes } from "../support/services.ts";
import { bearer, startTestIdentity, type TestIdentity } from "../support/identity.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const objects = KubernetesObjectApi.makeApiClient(kc);
let operator: RunningOperator;
let identity: TestIdentity;
const running: RunningService[] = [];
const connections: NatsConnection[] = [];

const si = { group: "mutualis.fr", version: "v1alpha1", plural: "serviceinstances" };
const pdf = Buffer.from("%PDF-1.7\n% acte\n%%EOF\n").toString("base64");

async function createInstance(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await custom.createNamespacedCustomObject({ ...si, namespace, body: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name }, spec } });
}

interface InstanceStatus {
  status?: { tenancy?: string; url?: string; conditions?: { type: string; status: string; reason: string; message: string }[] };
}

async function waitForInstance(namespace: string, name: string, status: string, reason: string, timeoutMs = 60_000) {
  let last: unknown;
  try {
    return await eventually(`ServiceInstance ${namespace}/${name} Ready=${status} (${reason})`, async () => {
      const object = (await custom.getNamespacedCustomObject({ ...si, namespace, name })) as InstanceStatus;
      const ready = object.status?.conditions?.find((c) => c.type === "Ready");
      last = ready;
      return ready?.status === status && ready.reason === reason ? object : undefined;
    }, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last Ready condition: ${JSON.stringify(last)}`, { cause: error });
  }
}

async function tenantConnection(collectivity: string): Promise<NatsConnection> {
  const secret = await core.readNamespacedSecret({ name: "nats-credentials", namespace: `coll-${collectivity}` });
  const nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(Buffer.from(secret.data!["user.creds"]!, "base64")) });
  connections.push(nc);
  return nc;
}

/** The error a request ends with, or "answered". */
async function attempt(nc: NatsConnection, subject: string, body: unknown = {}): Promise<string> {
  try {
    await nc.request(subject, JSON.stringify(body), { timeout: 3000 });
    return "answered";
  } catch (error) {
    const cause = (error as { cause?: Error }).cause;
    return `${(error as Error).message} ${cause?.message ?? ""}`;
  }
}

describe("ServiceInstance, shared tenancy: the NATS way", () => {
  beforeAll(async () => {
    operator = await startTestOperator();
    await objects.create(collectivityManifest({ name: "t-si-a", siren: sirenFrom("21350011") }));
    // In the zone KWOK simulates: its dedicated pods only pretend to run, which is all the rollout checks need.
    await objects.create(collectivityManifest({ name: "t-si-b", siren: sirenFrom("21350012"), zone: "fr-bzh-1b" }));
    await waitForReady(kc, "t-si-a");
    await waitForReady(kc, "t-si-b");
    // The shared deployments run with the platform services account's creds, as the hosting lot mounts them.
    const creds = await platformServicesCreds();
    identity = await startTestIdentity(creds, "si_identity", []);
    running.push(...(await startSharedActes(creds, "si", identity.verifierSettings)));
  });

  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    for (const service of running.reverse()) await service.stop();
    await identity?.stop();
    await deleteCollectivity(kc, "t-si-a");
    await deleteCollectivity(kc, "t-si-b");
    await deleteCollectivity(kc, "t-si-c");
    await waitForGone(kc, "t-si-a");
    await waitForGone(kc, "t-si-b");
    await waitForGone(kc, "t-si-c");
    await operator.stop();
  });

  it("when a collectivity asks for the shared actes service, then it becomes Ready and its agents submit acts that get acknowledged", async () => {
    await createInstance("coll-t-si-a", "actes", { service: "actes" });
    const ready = await waitForInstance("coll-t-si-a", "actes", "True", "Ready");
    expect(ready.status).toMatchObject({ tenancy: "shared", url: expect.stringMatching(/\/api\/v1\/tenants\/t-si-a\/actes$/) });

    const agents = await tenantConnection("t-si-a");
    // The collectivity's software calls with an agent's token, as the gateway forwards it.
    const agent = bearer(await identity.tokenFor("agent@t-si-a.example", { "t-si-a": ["agent"] }));
    const reply = await agents.request(
      "tenant.t-si-a.actes.submit",
      JSON.stringify({
        numeroInterne: "D2026_010",
        nature: 1,
        classification: "1.1",
        objet: "Marché de travaux de la médiathèque",
        date: "2026-11-20",
        document: { fileName: "d.pdf", mimeType: "application/pdf", contentBase64: pdf },
      }),
      { timeout: 10_000, ...agent },
    );
    const id = reply.json<{ id: string }>().id;
    const acknowledged = await eventually("the act to be acknowledged", async () => {
      const act = (await agents.request("tenant.t-si-a.actes.get", JSON.stringify({ id }), { timeout: 5000, ...agent })).json<{ status: string; identifier?: string }>();
      return act.status === "acknowledged" ? act : undefined;
    });
    expect(acknowledged.identifier).toMatch(/^035-21350011\d-20261120-D2026_010-DE$/);
  });

  it("when a collectivity without the service asks for it, then nothing answers; asking as another collectivity is refused", async () => {
    const other = await tenantConnection("t-si-b");
    expect(await attempt(other, "tenant.t-si-b.actes.list")).toMatch(/no responders|503/i);
    expect(await attempt(other, "tenant.t-si-a.actes.list")).toMatch(/permission/i);
  });

  it("when an account imports the platform's services without the activation the operator grants, then it reaches nothing; with one, it does", async () => {
    // An account the operator key signed (a mistake, another tool sharing the key) importing Rennes' actes.
    const operatorKey = fromSeed(readFileSync(platform.env.NATS_OPERATOR_SEED_FILE));
    const keys = await core.readNamespacedSecret({ name: "platform-services-keys", namespace: "mutualis-system" });
    const services = fromSeed(Buffer.from(keys.data!.accountSeed!, "base64"));
    const rogue = createAccount();
    const user = createUser();
    const subject = "tenant.t-si-a.actes.>";
    const push = async (token?: string) => {
      const imports = [{ name: "actes", type: "service" as const, subject, account: services.getPublicKey(), ...(token ? { token } : {}) }];
      const jwt = await encodeAccount("rogue", rogue, { imports, limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 } }, { signer: operatorKey });
      const system = await platform.systemNats();
      await system.request("$SYS.REQ.CLAIMS.UPDATE", jwt, { timeout: 5000 });
      await system.close();
    };
    const ask = async () => {
      const nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(fmtCreds(await encodeUser("rogue", user, rogue, {}), user)) });
      connections.push(nc);
      return attempt(nc, "tenant.t-si-a.actes.list");
    };
    await push();
    expect(await ask()).toMatch(/no responders/i);
    // The services account's activation, as the operator signs it for a collectivity's account.
    await push(await encodeActivation("actes", rogue, services, "service", { subject }));
    // Reached: the service answers (and, to a caller without a person's token, refuses).
    expect(
      await eventually("the activated import to be reached", async () => {
        const answer = await ask();
        return /no responders/i.test(answer) ? undefined : answer;
      }),
    ).toBe("answered");
  });

  it("when the ServiceInstance is deleted, then the import is revoked and the service no longer answers that collectivity", async () => {
    const agents = await tenantConnection("t-si-a");
    expect(await attempt(agents, "tenant.t-si-a.actes.list")).toBe("answered");
    await custom.deleteNamespacedCustomObject({ ...si, namespace: "coll-t-si-a", name: "actes" });
    await eventually("the import to be revoked", async () => ((await attempt(agents, "tenant.t-si-a.actes.list")) !== "answered" ? true : undefined), 30_000);
  });

  it("when a dedicated instance is asked for, then its Deployment runs in the tenant's namespace and Ready follows its availability", async () => {
    await createInstance("coll-t-si-b", "parapheur", { service: "parapheur", tenancy: "dedicated", plan: "small", replicas: 2, version: "1.0.0" });
    const ready = await waitForInstance("coll-t-si-b", "parapheur", "True", "Ready");
    expect(ready.status?.conditions?.find((c) => c.type === "Ready")?.message).toBe("2/2 pods ready");
    const deployment = await apps.readNamespacedDeployment({ name: "svc-parapheur", namespace: "coll-t-si-b" });
    expect(deployment.spec?.template.spec?.containers[0]?.image).toMatch(/:1\.0\.0$/);
    const pods = await core.listNamespacedPod({ namespace: "coll-t-si-b", labelSelector: "app.kubernetes.io/instance=parapheur" });
    // The namespace's node selector pins the pods to the collectivity's zone.
    expect(new Set(pods.items.map((p) => p.spec?.nodeName))).toEqual(new Set(["kwok-fr-bzh-1b"]));
    await kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name: "svc-parapheur", namespace: "coll-t-si-b" });

    await custom.patchNamespacedCustomObject(
      { ...si, namespace: "coll-t-si-b", name: "parapheur", body: { spec: { version: "1.1.0" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually("the new version to roll out", async () => {
      const d = await apps.readNamespacedDeployment({ name: "svc-parapheur", namespace: "coll-t-si-b" });
      return d.spec?.template.spec?.containers[0]?.image?.endsWith(":1.1.0") ? true : undefined;
    });
    await waitForInstance("coll-t-si-b", "parapheur", "True", "Ready");
  });

  it("when a dedicated instance's plan does not fit in the collectivity's quota, then Ready says so", async () => {
    await objects.create(collectivityManifest({ name: "t-si-c", siren: sirenFrom("21350013"), quota: { memory: "1Gi" } }));
    await waitForReady(kc, "t-si-c");
    await createInstance("coll-t-si-c", "sesf", { service: "sesf", tenancy: "dedicated", plan: "large" });
    const refused = await waitForInstance("coll-t-si-c", "sesf", "False", "QuotaExceeded");
    expect(refused.status?.conditions?.find((c) => c.type === "Ready")?.message).toContain("maximum memory usage per Container is 1Gi");
  });

  it("when a second instance asks for a service the collectivity already has, then it says so and changes nothing", async () => {
    await createInstance("coll-t-si-b", "parapheur-bis", { service: "parapheur", tenancy: "dedicated" });
    const duplicate = await waitForInstance("coll-t-si-b", "parapheur-bis", "False", "DuplicateService");
    expect(duplicate.status?.conditions?.find((c) => c.type === "Ready")?.message).toContain("ServiceInstance parapheur already provides parapheur");
    expect((await apps.listNamespacedDeployment({ namespace: "coll-t-si-b" })).items.map((d) => d.metadata?.name)).toEqual(["svc-parapheur"]);
    await custom.deleteNamespacedCustomObject({ ...si, namespace: "coll-t-si-b", name: "parapheur-bis" });
  });

  it("when a service runs only shared, then asking for it dedicated is refused in Ready", async () => {
    await createInstance("coll-t-si-b", "identity", { service: "identity", tenancy: "dedicated" });
    await waitForInstance("coll-t-si-b", "identity", "False", "TenancyNotSupported");
  });
});
