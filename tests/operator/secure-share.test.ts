import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import type { RunningService } from "@mutualis/service-kit";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { platformServicesCreds, startTestGateway, startTestSesf } from "../support/services.ts";
import { reserveTestIdentity, startTestIdentity, type TestIdentity } from "../support/identity.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const objects = KubernetesObjectApi.makeApiClient(kc);
const api = { group: "mutualis.fr", version: "v1alpha1" };
const namespace = "coll-t-share";
const database = "sharetest_sesf";
let operator: RunningOperator;
let sesf: RunningService;
let gateway: RunningService;
let identity: TestIdentity;
let mongo: MongoClient;

interface ShareObject {
  metadata: { uid: string };
  status?: {
    state?: string;
    expiresAt?: string;
    files?: number;
    totalBytes?: number;
    linksSecret?: string;
    downloads?: { recipient: string; count: number }[];
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

const readShare = async (name: string) => (await custom.getNamespacedCustomObject({ ...api, plural: "secureshares", namespace, name })) as ShareObject;

async function links(name: string): Promise<{ upload: string; byEmail: Map<string, string> }> {
  const secret = await core.readNamespacedSecret({ name: `${name}-links`, namespace });
  const decode = (key: string) => Buffer.from(secret.data![key]!, "base64").toString("utf8");
  const list = JSON.parse(decode("links.json")) as { email: string; url: string }[];
  return { upload: decode("upload-url"), byEmail: new Map(list.map((l) => [l.email, l.url])) };
}

describe("SecureShare: a share of the secure file exchange, declared in Kubernetes", () => {
  beforeAll(async () => {
    // The operator calls sesf with its own token (client credentials) from this identity.
    const reserved = await reserveTestIdentity();
    operator = await startTestOperator({ env: reserved.operatorEnv });
    const creds = await platformServicesCreds();
    identity = await startTestIdentity(creds, "sharetest_identity", [], {}, reserved);
    ({ service: sesf } = await startTestSesf(creds, database, identity.verifierSettings));
    gateway = await startTestGateway(creds, "sharetest", identity.verifierSettings);
    mongo = await MongoClient.connect(platform.env.MONGODB_URI);
    await objects.create(collectivityManifest({ name: "t-share", siren: sirenFrom("21350041") }));
    await waitForReady(kc, "t-share");
    // The collectivity uses the shared exchange: the operator enables it there.
    await custom.createNamespacedCustomObject({ ...api, plural: "serviceinstances", namespace, body: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: "sesf" }, spec: { service: "sesf" } } });
    await eventually("the sesf instance to be Ready", async () => {
      const si = (await custom.getNamespacedCustomObject({ ...api, plural: "serviceinstances", namespace, name: "sesf" })) as ShareObject;
      return si.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True");
    });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: "share-password" }, stringData: { password: "Voirie-2027!" } } });
  }, 120_000);

  afterAll(async () => {
    await mongo?.close();
    await deleteCollectivity(kc, "t-share");
    await waitForGone(kc, "t-share");
    await gateway?.stop();
    await sesf?.stop();
    await identity?.stop();
    await operator?.stop();
  });

  it("when a SecureShare is declared, then the share is created, its links are in a Secret, and status follows uploads and downloads", async () => {
    await custom.createNamespacedCustomObject({
      ...api,
      plural: "secureshares",
      namespace,
      body: {
        apiVersion: "mutualis.fr/v1alpha1",
        kind: "SecureShare",
        metadata: { name: "dce-voirie" },
        spec: {
          description: "DCE du marché de voirie",
          recipients: [{ email: "a@entreprise.example" }, { email: "b@entreprise.example" }],
          passwordSecretRef: { name: "share-password" },
        },
      },
    });
    const ready = await eventually("the share to be Ready", async () => {
      const share = await readShare("dce-voirie");
      return share.status?.state === "Ready" ? share : undefined;
    });
    expect(ready.status?.linksSecret).toBe("dce-voirie-links");
    expect(new Date(ready.status!.expiresAt!).getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(JSON.stringify(ready.status)).not.toMatch(/links\/|uploads\/|Voirie-2027/);

    const { upload, byEmail } = await links("dce-voirie");
    const put = await fetch(`${upload}/files/CCTP.pdf`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: "%PDF-1.7 CCTP" });
    expect(put.status).toBe(201);
    const file = (await put.json()) as { id: string };
    expect((await fetch(`${byEmail.get("a@entreprise.example")}/files/${file.id}`)).status).toBe(403);
    const got = await fetch(`${byEmail.get("a@entreprise.example")}/files/${file.id}`, { headers: { "x-share-password": "Voirie-2027!" } });
    expect(await got.text()).toBe("%PDF-1.7 CCTP");
    await eventually("status to count the file and the download", async () => {
      const share = await readShare("dce-voirie");
      return share.status?.files === 1 && share.status.downloads?.find((d) => d.recipient === "a@entreprise.example")?.count === 1 ? share : undefined;
    }, 30_000);
  });

  it("when a SecureShare's password is in a Secret the platform manages, or in none, then it is not made, and its status says why", async () => {
    const declare = (name: string, secret: string) =>
      custom.createNamespacedCustomObject({
        ...api,
        plural: "secureshares",
        namespace,
        body: { apiVersion: "mutualis.fr/v1alpha1", kind: "SecureShare", metadata: { name }, spec: { recipients: [{ email: "a@entreprise.example" }], passwordSecretRef: { name: secret, key: "MONGODB_URI" } } },
      });
    // A Secret of the platform under a name the schema cannot know: its label says the operator manages it.
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: "platform-made", labels: { "app.kubernetes.io/managed-by": "mutualis-operator" } }, stringData: { MONGODB_URI: "mongodb://secret" } } });
    await declare("from-platform", "platform-made");
    await declare("from-nowhere", "does-not-exist");
    const refused = await eventually("the share to be refused", async () => {
      const share = await readShare("from-platform");
      return share.status?.conditions?.find((c) => c.type === "Ready" && c.reason === "PasswordSecretRefused");
    });
    expect(refused.message).toBe("Secret platform-made is managed by the platform: name a Secret of your own for the password");
    // A failure the reconciler did not foresee is said in status too, never only in a log line.
    const failed = await eventually("the failure to be in status", async () => {
      const share = await readShare("from-nowhere");
      return share.status?.conditions?.find((c) => c.type === "Ready" && c.reason === "ReconcileFailed");
    });
    expect(failed.message).toMatch(/^the reconcile failed and is retried: .*does-not-exist.*not found/);
    for (const name of ["from-platform", "from-nowhere"]) await custom.deleteNamespacedCustomObject({ ...api, plural: "secureshares", namespace, name });
    await core.deleteNamespacedSecret({ name: "platform-made", namespace });
  });

  it("when recipients are edited, then the new one gets a link and the removed one's link stops working", async () => {
    const before = await links("dce-voirie");
    await custom.patchNamespacedCustomObject(
      { ...api, plural: "secureshares", namespace, name: "dce-voirie", body: { spec: { recipients: [{ email: "a@entreprise.example" }, { email: "c@entreprise.example" }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const after = await eventually("the links Secret to name c and not b", async () => {
      const current = await links("dce-voirie");
      return current.byEmail.has("c@entreprise.example") && !current.byEmail.has("b@entreprise.example") ? current : undefined;
    });
    expect(after.byEmail.get("a@entreprise.example")).toBe(before.byEmail.get("a@entreprise.example"));
    const headers = { "x-share-password": "Voirie-2027!" };
    expect((await fetch(before.byEmail.get("b@entreprise.example")!, { headers })).status).toBe(403);
    expect((await fetch(after.byEmail.get("c@entreprise.example")!, { headers })).status).toBe(200);
  });

  it("when the share reaches its expiry, then the operator marks it Expired at that moment", async () => {
    const share = await readShare("dce-voirie");
    await mongo.db(database).collection("shares").updateOne({ _id: share.metadata.uid as never }, { $set: { expiresAt: new Date(Date.now() + 3000) } });
    const expired = await eventually("the share to be Expired", async () => {
      const current = await readShare("dce-voirie");
      return current.status?.state === "Expired" ? current : undefined;
    }, 30_000);
    expect(expired.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "False", reason: "Expired" });
  });

  it("when a SecureShare is deleted, then the share is revoked, its content purged, and its links Secret goes", async () => {
    await custom.createNamespacedCustomObject({
      ...api,
      plural: "secureshares",
      namespace,
      body: { apiVersion: "mutualis.fr/v1alpha1", kind: "SecureShare", metadata: { name: "pv" }, spec: { recipients: [{ email: "elu@mairie.example" }] } },
    });
    const share = await eventually("the share to be Ready", async () => {
      const current = await readShare("pv");
      return current.status?.state === "Ready" ? current : undefined;
    });
    const { byEmail } = await links("pv");
    await custom.deleteNamespacedCustomObject({ ...api, plural: "secureshares", namespace, name: "pv" });
    await eventually("the SecureShare to be gone", async () => {
      try {
        await readShare("pv");
        return undefined;
      } catch {
        return true;
      }
    });
    expect(await mongo.db(database).collection("shares").findOne({ _id: share.metadata.uid as never })).toMatchObject({ state: "revoked" });
    expect((await fetch(byEmail.get("elu@mairie.example")!)).status).toBe(410);
    await eventually("the links Secret to be collected", async () => ((await core.listNamespacedSecret({ namespace })).items.some((s) => s.metadata?.name === "pv-links") ? undefined : true));
  });

  it("when an agent invites a guest through the gateway, then the voucher is made on the collectivity's own subjects; another collectivity's agent is refused", async () => {
    const post = async (collectivity: string, operation: string, body: unknown, user = "instructeur@t-share.example") =>
      fetch(`${gateway.url}/api/v1/tenants/${collectivity}/sesf/${operation}`, {
        method: "POST",
        headers: { authorization: `Bearer ${await identity.tokenFor(user, { "t-share": ["agent"] })}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const made = await post("t-share", "vouchers.create", { agent: { email: "instructeur@t-share.example" }, guest: { email: "gerant@entreprise.example" }, voucherDays: 2 });
    expect(made.status).toBe(200);
    const voucher = (await made.json()) as { id: string; voucherUrl: string };
    expect(voucher.voucherUrl).toMatch(/\/api\/v1\/uploads\/[-_A-Za-z0-9]{43}$/);
    const listed = (await (await post("t-share", "shares.list", {})).json()) as { id: string; guest?: string }[];
    expect(listed.find((s) => s.id === voucher.id)).toMatchObject({ guest: "gerant@entreprise.example" });
    // The caller belongs to t-share: another collectivity's subjects stay out of reach, and no wildcard passes.
    expect((await post("t-other", "shares.list", {})).status).toBe(403);
    expect((await post("t-share", "shares.>", {})).status).toBe(400);
  });

  it("when the collectivity's ServiceInstance limits recipients, then a SecureShare over the limit is Failed with the exchange's reason, and limits above the platform's are InvalidSettings", async () => {
    const setSettings = (settings: Record<string, unknown>) =>
      custom.patchNamespacedCustomObject({ ...api, plural: "serviceinstances", namespace, name: "sesf", body: { spec: { settings } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const instanceReady = async (generation: number) => {
      const si = (await custom.getNamespacedCustomObject({ ...api, plural: "serviceinstances", namespace, name: "sesf" })) as ShareObject & { status?: { observedGeneration?: number } };
      return si.status?.observedGeneration === generation ? si.status.conditions?.find((c) => c.type === "Ready") : undefined;
    };
    const limited = (await setSettings({ maxRecipients: 1 })) as { metadata: { generation: number } };
    expect(await eventually("the limit to be accepted", () => instanceReady(limited.metadata.generation))).toMatchObject({ status: "True" });

    await custom.createNamespacedCustomObject({
      ...api,
      plural: "secureshares",
      namespace,
      body: { apiVersion: "mutualis.fr/v1alpha1", kind: "SecureShare", metadata: { name: "trop" }, spec: { recipients: [{ email: "a@x.example" }, { email: "b@x.example" }] } },
    });
    const failed = await eventually("the share to be Failed", async () => {
      const current = await readShare("trop");
      return current.status?.state === "Failed" ? current : undefined;
    });
    expect(failed.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "False", reason: "Rejected", message: expect.stringContaining("at most 1 recipients for this collectivity") });
    expect((await core.listNamespacedSecret({ namespace })).items.map((s) => s.metadata?.name)).not.toContain("trop-links");

    const tooMuch = (await setSettings({ maxFileBytes: 2 ** 40 })) as { metadata: { generation: number } };
    const refused = await eventually("the settings to be refused", () => instanceReady(tooMuch.metadata.generation));
    expect(refused).toMatchObject({ status: "False", reason: "InvalidSettings", message: expect.stringContaining("maxFileBytes: must be at most 4294967296 bytes") });
  });
});
