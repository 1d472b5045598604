import { readFileSync } from "node:fs";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  NetworkingV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  type KubernetesObject,
  type V1Pod,
} from "@kubernetes/client-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, layout } from "@mutualis/local-platform";
import type { RunningOperator } from "@mutualis/operator";
import {
  collectivityManifest,
  deleteCollectivity,
  readCollectivity,
  sirenFrom,
  startTestOperator,
  waitForGone,
  waitForReady,
} from "../support/operator.ts";
import { eventually, statusOf, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const objects = KubernetesObjectApi.makeApiClient(kc);
let operator: RunningOperator;
const opened: NatsConnection[] = [];

const rennes = { name: "t-rennes", siren: "213502388", population: 227_830, administrators: { users: ["agent@rennes.test"], groups: ["rennes-admins"] } };
const brest = { name: "t-brest", siren: "212900195", population: 139_000, zone: "fr-bzh-1b", administrators: { users: ["agent@brest.test"] } };

function restrictedPod(name: string, nodeSelector?: Record<string, string>): V1Pod {
  return {
    metadata: { name },
    spec: {
      ...(nodeSelector ? { nodeSelector } : {}),
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        { name: "app", image: "registry.invalid/app:1", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } },
      ],
    },
  };
}

async function tenantCreds(namespace: string): Promise<Uint8Array> {
  const secret = await core.readNamespacedSecret({ name: "nats-credentials", namespace });
  return Buffer.from(secret.data!["user.creds"]!, "base64");
}

async function natsAs(creds: Uint8Array, name: string): Promise<NatsConnection> {
  const nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(creds), name });
  opened.push(nc);
  return nc;
}

describe("a Collectivity becomes an isolated tenant", () => {
  beforeAll(async () => {
    operator = await startTestOperator();
    await objects.create(collectivityManifest(rennes));
    await objects.create(collectivityManifest(brest));
    await waitForReady(kc, rennes.name);
    await waitForReady(kc, brest.name);
  });

  afterAll(async () => {
    await Promise.all(opened.map((nc) => nc.close().catch(() => undefined)));
    await deleteCollectivity(kc, rennes.name);
    await deleteCollectivity(kc, brest.name);
    await waitForGone(kc, rennes.name);
    await waitForGone(kc, brest.name);
    await operator.stop();
  });

  it("when it is Ready, then its status names the namespace, zone, NATS account and database, each step as a condition", async () => {
    const object = await readCollectivity(kc, rennes.name);
    expect(object.status).toMatchObject({ namespace: "coll-t-rennes", zone: "fr-bzh-1a", database: "coll_t_rennes", natsAccount: expect.stringMatching(/^A[A-Z2-7]{55}$/) });
    const conditions = Object.fromEntries((object.status?.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conditions).toEqual({
      NamespaceReady: "True",
      QuotaApplied: "True",
      NetworkIsolated: "True",
      AccessConfigured: "True",
      MessagingReady: "True",
      DatabaseReady: "True",
      Ready: "True",
    });
    const events = await core.listNamespacedEvent({ namespace: "default", fieldSelector: `involvedObject.name=${rennes.name}` });
    expect(events.items.map((e) => e.reason)).toContain("TenantReady");
  });

  it("when its namespace is read, then it is labelled for the collectivity and Pod Security restricted, and pinned to the zone", async () => {
    const ns = await core.readNamespace({ name: "coll-t-rennes" });
    expect(ns.metadata?.labels).toMatchObject({ "mutualis.fr/collectivity": "t-rennes", "pod-security.kubernetes.io/enforce": "restricted" });
    expect(ns.metadata?.annotations?.["scheduler.alpha.kubernetes.io/node-selector"]).toBe("topology.kubernetes.io/zone=fr-bzh-1a");
    expect(ns.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "Collectivity", name: "t-rennes", controller: true });
  });

  it("when no quota is given, then the city's category defaults apply, with container limits", async () => {
    const quota = await core.readNamespacedResourceQuota({ name: "tenant-quota", namespace: "coll-t-rennes" });
    expect(quota.spec?.hard).toMatchObject({ "requests.cpu": "16", "requests.memory": "32Gi", pods: "200", "count/serviceinstances.mutualis.fr": "20" });
    const limits = await core.readNamespacedLimitRange({ name: "tenant-limits", namespace: "coll-t-rennes" });
    expect(limits.spec?.limits[0]?.defaultRequest).toEqual({ cpu: "100m", memory: "128Mi" });
  });

  it("when its network policies are listed, then egress and ingress are denied by default with the platform's exceptions", async () => {
    const policies = await kc.makeApiClient(NetworkingV1Api).listNamespacedNetworkPolicy({ namespace: "coll-t-rennes" });
    expect(policies.items.map((p) => p.metadata?.name).sort()).toEqual([
      "allow-dns",
      "allow-from-gateway-and-monitoring",
      "allow-platform-services",
      "allow-same-namespace",
      "default-deny",
    ]);
    const deny = policies.items.find((p) => p.metadata?.name === "default-deny");
    expect(deny?.spec).toMatchObject({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it("when a pod asks for another zone, then it is refused; a pod asking nothing is pinned to the tenant's zone", async () => {
    const refused = core.createNamespacedPod({ namespace: "coll-t-rennes", body: restrictedPod("elsewhere", { "topology.kubernetes.io/zone": "fr-bzh-1b" }) });
    await expect(refused).rejects.toMatchObject({ code: 403, body: expect.stringContaining("node label selector conflicts") });

    const pod = await eventually("a pod to be admitted (once the namespace's service account exists)", () =>
      core.createNamespacedPod({ namespace: "coll-t-rennes", body: restrictedPod("pinned") }),
    );
    expect(pod.spec?.nodeSelector).toEqual({ "topology.kubernetes.io/zone": "fr-bzh-1a" });
    const scheduled = await eventually("the pod to be scheduled", async () => {
      const p = await core.readNamespacedPod({ name: "pinned", namespace: "coll-t-rennes" });
      return p.spec?.nodeName ? p : undefined;
    });
    expect(scheduled.spec?.nodeName).toBe(platform.config.zones.find((z) => z.name === "fr-bzh-1a")!.node);
    await core.deleteNamespacedPod({ name: "pinned", namespace: "coll-t-rennes", gracePeriodSeconds: 0 });
  });

  it("when a pod breaks the restricted profile, then Pod Security admission refuses it", async () => {
    const privileged = core.createNamespacedPod({
      namespace: "coll-t-rennes",
      body: { metadata: { name: "root" }, spec: { containers: [{ name: "app", image: "x", securityContext: { privileged: true } }] } },
    });
    await expect(privileged).rejects.toMatchObject({ code: 403, body: expect.stringContaining("violates PodSecurity \\\"restricted:latest\\\"") });
  });

  it("when an administrator of one tenant acts, then they manage their own ServiceInstances and nothing of the other tenant", async () => {
    const pki = layout(platform.config).pki;
    // The API server names the platform's people oidc:<email> (its authentication configuration's
    // prefix); a client certificate of that name stands for the person here.
    const agent = issueCertificate(pki, "oidc-agent-rennes", { commonName: "oidc:agent@rennes.test" });
    const asAgent = platform.kubeConfigFor(agent, "oidc:agent@rennes.test");
    const custom = asAgent.makeApiClient(CustomObjectsApi);
    const instance = (namespace: string) =>
      custom.createNamespacedCustomObject({
        group: "mutualis.fr",
        version: "v1alpha1",
        namespace,
        plural: "serviceinstances",
        body: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: "actes" }, spec: { service: "actes" } },
      });
    await eventually("the administrator's Role to take effect", async () => ((await statusOf(instance("coll-t-rennes"))) === 200 ? true : undefined));
    expect(await statusOf(instance("coll-t-brest"))).toBe(403);
    expect(await statusOf(asAgent.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "coll-t-brest" }))).toBe(403);
    expect(await statusOf(asAgent.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: "coll-t-rennes" }))).toBe(403);
    expect(await statusOf(asAgent.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "coll-t-rennes" }))).toBe(200);
    expect(await statusOf(asAgent.makeApiClient(CoreV1Api).deleteNamespace({ name: "coll-t-rennes" }))).toBe(403);
  });

  it("when a child is deleted or edited by hand, then the operator puts it back", async () => {
    const networking = kc.makeApiClient(NetworkingV1Api);
    await networking.deleteNamespacedNetworkPolicy({ name: "default-deny", namespace: "coll-t-rennes" });
    await objects.patch(
      { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "tenant-quota", namespace: "coll-t-rennes" }, spec: { hard: { pods: "9999" } } } as KubernetesObject,
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    );
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.deleteNamespacedRoleBinding({ name: "collectivity-admins", namespace: "coll-t-rennes" });

    await eventually("the deleted policy to be recreated", () => networking.readNamespacedNetworkPolicy({ name: "default-deny", namespace: "coll-t-rennes" }));
    await eventually("the edited quota to be restored", async () => {
      const quota = await core.readNamespacedResourceQuota({ name: "tenant-quota", namespace: "coll-t-rennes" });
      return quota.spec?.hard?.pods === "200" ? true : undefined;
    });
    const binding = await eventually("the RoleBinding to be recreated", () => rbac.readNamespacedRoleBinding({ name: "collectivity-admins", namespace: "coll-t-rennes" }));
    // The platform's people under the API server's prefix, and the identity's administrators of the collectivity.
    expect(binding.subjects?.map((s) => `${s.kind}:${s.name}`)).toEqual(["Group:oidc:mutualis:t-rennes:administrateur", "User:oidc:agent@rennes.test", "Group:oidc:rennes-admins"]);
  });

  it("when the tenant's NATS user talks, then it stays inside tenant.<name>.> and never sees another tenant's messages", async () => {
    const rennesNats = await natsAs(await tenantCreds("coll-t-rennes"), "rennes");
    const brestNats = await natsAs(await tenantCreds("coll-t-brest"), "brest");
    const errors: string[] = [];
    void (async () => {
      for await (const s of rennesNats.status()) if (s.type === "error") errors.push(String(s.error));
    })();

    const seenByBrest: string[] = [];
    brestNats.subscribe("tenant.t-brest.>", { callback: (_e, m) => void seenByBrest.push(m.subject) });
    const seenByRennes: string[] = [];
    rennesNats.subscribe("tenant.t-rennes.>", { callback: (_e, m) => void seenByRennes.push(m.subject) });
    await brestNats.flush();
    await rennesNats.flush();

    rennesNats.publish("tenant.t-rennes.actes.sent", "acte");
    rennesNats.publish("tenant.t-brest.actes.sent", "intrusion");
    await rennesNats.flush().catch(() => undefined);
    await eventually("the publish outside the prefix to be refused", async () => (errors.some((e) => /permissions violation for publish/i.test(e)) ? true : undefined), 10_000);

    rennesNats.subscribe("tenant.t-brest.>");
    await eventually("the subscription outside the prefix to be refused", async () => (errors.some((e) => /permissions violation for subscription/i.test(e)) ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(seenByRennes).toEqual(["tenant.t-rennes.actes.sent"]);
    expect(seenByBrest).toEqual([]);
  });

  it("when the tenant uses JetStream, then its account is bounded from its quota: streams say their maximum, within the tenant's", async () => {
    const nc = await natsAs(await tenantCreds("coll-t-rennes"), "rennes-jetstream");
    const jsm = await jetstreamManager(nc);
    // Rennes (227,830 inhabitants): the large defaults, 500Gi of storage and 20 ServiceInstances.
    const { limits } = await jsm.getAccountInfo();
    expect(limits).toMatchObject({ max_streams: 80, max_consumers: 1280, max_bytes_required: true, max_memory: 0 });
    const perStream = Math.floor((500 * 2 ** 30) / 10 / 80);
    const stream = (name: string, extra: Record<string, unknown>) => jsm.streams.add({ name, subjects: [`tenant.t-rennes.${name.toLowerCase()}.>`], ...extra });
    await expect(stream("SANS_LIMITE", {})).rejects.toThrow("account requires a stream config to have max bytes set");
    await expect(stream("TROP_GROS", { max_bytes: perStream + 1 })).rejects.toThrow(/stream max bytes exceeds account limit max stream bytes/i);
    expect((await stream("JUSTE", { max_bytes: perStream })).config.max_bytes).toBe(perStream);
    await jsm.streams.delete("JUSTE");
  });

  it("when the tenant's database Secret is used, then it reaches the tenant's own database", async () => {
    const secret = await core.readNamespacedSecret({ name: "database", namespace: "coll-t-rennes" });
    const text = (key: string) => Buffer.from(secret.data![key]!, "base64").toString();
    const [uri, database, ca] = [text("MONGODB_URI"), text("MONGODB_DATABASE"), text("MONGODB_CA")];
    expect(database).toBe("coll_t_rennes");
    // Its own role, whose name no one can guess, over TLS with the platform's CA.
    expect(decodeURIComponent(new URL(uri).username)).toMatch(/^t_[0-9a-f]{24}$/);
    expect(new URL(uri).searchParams.get("tls")).toBe("true");
    const client = await new MongoClient(uri, { ca }).connect();
    try {
      const marker = await client.db(database).collection("_tenant").findOne({});
      expect(marker).toMatchObject({ collectivity: "t-rennes", siren: "213502388" });
      const visible = (await client.db("admin").admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name);
      expect(visible).toEqual(["coll_t_rennes"]);
      await expect(client.db("coll_t_brest").collection("_tenant").findOne({})).rejects.toThrow(/permission denied/);
    } finally {
      await client.close();
    }
  });

  it("when the rotation annotation is set, then the tenant's role gets a new password: the old Secret opens nothing, the new one works, an event says so", async () => {
    const read = async () => {
      const data = (await core.readNamespacedSecret({ name: "database", namespace: "coll-t-rennes" })).data!;
      return { uri: Buffer.from(data.MONGODB_URI!, "base64").toString(), ca: Buffer.from(data.MONGODB_CA!, "base64").toString() };
    };
    const before = await read();
    await objects.patch(
      { apiVersion: "mutualis.fr/v1alpha1", kind: "Collectivity", metadata: { name: "t-rennes", annotations: { "mutualis.fr/rotate-database-credentials": "2026-11-30" } } } as KubernetesObject,
      undefined, undefined, undefined, undefined, PatchStrategy.MergePatch,
    );
    const after = await eventually("the database Secret to change", async () => {
      const current = await read();
      return current.uri !== before.uri ? current : undefined;
    }, 30_000);
    expect(new URL(after.uri).username).toBe(new URL(before.uri).username);
    const stale = await new MongoClient(before.uri, { ca: before.ca }).connect();
    try {
      let refused = "";
      for (let i = 0; i < 12 && !/password authentication failed/.test(refused); i++) {
        refused = await stale.db("coll_t_rennes").collection("_tenant").findOne({}).then(() => "opened", (e: Error) => e.message);
        expect(refused).not.toBe("opened");
      }
      expect(refused).toMatch(/password authentication failed/);
    } finally {
      await stale.close();
    }
    const fresh = await new MongoClient(after.uri, { ca: after.ca }).connect();
    expect(await fresh.db("coll_t_rennes").collection("_tenant").findOne({})).toMatchObject({ collectivity: "t-rennes" });
    await fresh.close();
    await eventually("the rotation event", async () => {
      const events = await core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=t-rennes" });
      return events.items.some((e) => e.reason === "DatabaseCredentialsRotated") ? true : undefined;
    }, 10_000);
    // The same value again asks for nothing more.
    const settled = await read();
    await new Promise((r) => setTimeout(r, 1500));
    expect((await read()).uri).toBe(settled.uri);
  });

  it("when the quota is below what one container needs, then Ready is False and says why", async () => {
    const name = "t-tiny";
    await objects.create(collectivityManifest({ name, siren: sirenFrom("21350001"), quota: { cpu: "50m" } }));
    try {
      const object = await waitForReady(kc, name, "False", "QuotaInvalid");
      const ready = object.status?.conditions?.find((c) => c.type === "Ready");
      expect(ready?.message).toBe("QuotaApplied: the quota cannot be applied: quota.cpu 50m is below one container's default request (100m)");
    } finally {
      await deleteCollectivity(kc, name);
      await waitForGone(kc, name);
    }
  });

  it("when a second Collectivity declares a SIREN already in use, then it is not provisioned and its status says which holds it", async () => {
    const name = "t-rennes-bis";
    await objects.create(collectivityManifest({ name, siren: rennes.siren }));
    try {
      const object = await waitForReady(kc, name, "False", "SirenInUse");
      const ready = object.status?.conditions?.find((c) => c.type === "Ready");
      expect(ready?.message).toBe(
        "NamespaceReady: SIREN 213502388 is already the tenant of Collectivity t-rennes: one legal entity is one tenant, so nothing is created for this one; delete it, or correct its SIREN by creating it again",
      );
      // Nothing of a tenant was made for it.
      await expect(core.readNamespace({ name: `coll-${name}` })).rejects.toMatchObject({ code: 404 });
      expect(object.status).not.toHaveProperty("natsAccount");
      expect(object.status).not.toHaveProperty("database");
      // The holder is untouched.
      expect((await waitForReady(kc, rennes.name)).status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    } finally {
      await deleteCollectivity(kc, name);
      await waitForGone(kc, name);
    }
  });

  it("when the operator's secrets are read, then the tenant namespace holds creds but never the account's keys", async () => {
    const secrets = await core.listNamespacedSecret({ namespace: "coll-t-rennes" });
    const keys = secrets.items.flatMap((s) => Object.keys(s.data ?? {}));
    expect(keys.sort()).toEqual(["MONGODB_CA", "MONGODB_DATABASE", "MONGODB_URI", "NATS_URL", "user.creds"]);
    const creds = readFileSync(platform.env.NATS_SYSTEM_CREDS, "utf8");
    expect(JSON.stringify(secrets.items)).not.toContain(creds.split("\n")[1]);
  });

  it("when the apps of the tenant are listed, then the operator made no Deployment of its own", async () => {
    const deployments = await kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: "coll-t-rennes" });
    expect(deployments.items).toEqual([]);
  });
});
