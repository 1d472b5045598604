import { readFileSync } from "node:fs";
import { CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi } from "@kubernetes/client-node";
import { connect, credsAuthenticator, headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import type { RunningService } from "@mutualis/service-kit";
import { reserveTestIdentity, startTestIdentity, type TestIdentity } from "../support/identity.ts";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, statusOf, testPlatform } from "../support/platform.ts";
import { platformServicesCreds, startTestGateway, startTestSesf, type PlatformCreds } from "../support/services.ts";

/**
 * The isolation matrix: every tenant boundary, each the component that owns it, tried against
 * collectivity A from collectivity B (with B's own, valid credentials) and from anonymous (with
 * none). Every cell is refused, by the real component: the API server's RBAC, the gateway, the
 * NATS server, PostgreSQL under FerretDB, the secure file exchange.
 */
const platform = testPlatform();
const kc = platform.kubeConfig();
const objects = KubernetesObjectApi.makeApiClient(kc);
const core = kc.makeApiClient(CoreV1Api);
const a = { name: "t-iso-a", admin: "admin@iso-a.test" };
const b = { name: "t-iso-b", admin: "admin@iso-b.test" };
let operator: RunningOperator;
let identity: TestIdentity;
let creds: PlatformCreds;
let gateway: RunningService;
let sesf: { service: RunningService; url: string };
const connections: NatsConnection[] = [];
const clients: MongoClient[] = [];
/** A's share: one file, and its recipient's link; B's share, with B's own link. */
let shareA: { link: string; fileId: string };
let shareB: { link: string };

/** A Kubernetes client as the holder of an identity token, or as no one. */
function kubeAs(token?: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: "local", server: platform.env.KUBE_API_URL, caData: readFileSync(platform.env.IDENTITY_CA_FILE).toString("base64") }],
    users: [{ name: "someone", ...(token ? { token } : {}) }],
    contexts: [{ name: "local", cluster: "local", user: "someone" }],
    currentContext: "local",
  });
  return config;
}

function serviceInstancesIn(client: KubeConfig, collectivity: string): Promise<unknown> {
  return client.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: "mutualis.fr", version: "v1alpha1", namespace: `coll-${collectivity}`, plural: "serviceinstances" });
}

async function gatewayStatus(path: string, token?: string): Promise<number> {
  return (await fetch(`${gateway.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status;
}

/** The tenant's Secret's value, decoded. */
async function secretValue(namespace: string, name: string, key: string): Promise<string> {
  return Buffer.from((await core.readNamespacedSecret({ name, namespace })).data![key]!, "base64").toString("utf8");
}

async function mongoAs(uri: string, ca: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { ca, serverSelectionTimeoutMS: 5000 });
  clients.push(client);
  return client.connect();
}

/** What the NATS server tells a connection it refused. */
function violationsOf(nc: NatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const status of nc.status()) if (status.type === "error") seen.push(String(status.error));
  })();
  return seen;
}

function bearer(token: string): MsgHdrs {
  const h = headers();
  h.set("Authorization", `Bearer ${token}`);
  return h;
}

/** A share of the collectivity, made by its agent, with one file uploaded and the recipient's link. */
async function share(collectivity: string, nc: NatsConnection, content: string): Promise<{ link: string; fileId: string }> {
  const agent = await identity.tokenFor(`agent@${collectivity}.test`, { [collectivity]: ["agent"] });
  const reply = await nc.request(`tenant.${collectivity}.sesf.shares.create`, JSON.stringify({ description: "Pièces", recipients: [{ email: "titulaire@entreprise.example" }] }), {
    timeout: 10_000,
    headers: bearer(agent),
  });
  const created = reply.json<{ uploadUrl: string; links: { url: string }[] }>();
  expect((await fetch(`${created.uploadUrl}/files/piece.txt`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: content })).status).toBe(201);
  expect((await fetch(`${created.uploadUrl}/complete`, { method: "POST" })).status).toBe(200);
  const link = created.links[0]!.url.replace(/\/$/, "");
  const token = link.split("/").at(-1)!;
  const listed = (await (await fetch(`${sesf.url}/api/v1/links/${token}`)).json()) as { files: { id: string }[] };
  return { link: token, fileId: listed.files[0]!.id };
}

beforeAll(async () => {
  operator = await startTestOperator();
  await objects.create(collectivityManifest({ name: a.name, siren: sirenFrom("21350071"), administrators: { users: [a.admin] } }));
  await objects.create(collectivityManifest({ name: b.name, siren: sirenFrom("21350072"), administrators: { users: [b.admin] } }));
  await waitForReady(kc, a.name);
  await waitForReady(kc, b.name);
  creds = await platformServicesCreds();
  // On the test platform's identity port: the API server trusts this issuer's tokens.
  identity = await startTestIdentity(creds, "iso_identity", [], {}, await reserveTestIdentity(platform.config.ports.identity));
  gateway = await startTestGateway(creds, "iso", identity.verifierSettings);
  sesf = await startTestSesf(creds, "iso_sesf", identity.verifierSettings);
  const client = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(readFileSync(creds.client)) });
  connections.push(client);
  for (const tenant of [a, b]) {
    await client.request("platform.sesf.tenants.enable", JSON.stringify({ collectivity: tenant.name, siren: "213502388", departement: "035", displayName: tenant.name }), { timeout: 10_000 });
  }
  shareA = await share(a.name, client, "Offre de l'entreprise pour A");
  shareB = await share(b.name, client, "Offre pour B");
  const probe = await identity.tokenFor(b.admin, { [b.name]: ["administrateur"] });
  await eventually("the API server to trust the identity's tokens", async () => ((await statusOf(serviceInstancesIn(kubeAs(probe), b.name))) === 200 ? true : undefined), 60_000);
}, 240_000);

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await Promise.all(clients.map((c) => c.close()));
  await sesf?.service.stop();
  await gateway?.stop();
  await identity?.stop();
  for (const tenant of [a, b]) await deleteCollectivity(kc, tenant.name).catch(() => undefined);
  for (const tenant of [a, b]) await waitForGone(kc, tenant.name).catch(() => undefined);
  await operator?.stop();
}, 240_000);

describe("the isolation matrix: collectivity A's data, tried from collectivity B and from anonymous", () => {
  it("Kubernetes RBAC: B's administrator and an anonymous client read nothing of A's namespace, and change nothing there", async () => {
    const bAdmin = kubeAs(await identity.tokenFor(b.admin, { [b.name]: ["administrateur"] }));
    const namespace = `coll-${a.name}`;
    // B's administrator manages B's ServiceInstances…
    expect(await statusOf(serviceInstancesIn(bAdmin, b.name))).toBe(200);
    for (const client of [bAdmin, kubeAs()]) {
      const anonymous = client === bAdmin ? "B's administrator" : "anonymous";
      const refused = (code: number) => [401, 403].includes(code);
      expect(refused(await statusOf(client.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace }))), `${anonymous} lists A's Secrets`).toBe(true);
      expect(refused(await statusOf(client.makeApiClient(CoreV1Api).readNamespacedSecret({ name: "database", namespace }))), `${anonymous} reads A's database Secret`).toBe(true);
      expect(refused(await statusOf(serviceInstancesIn(client, a.name))), `${anonymous} lists A's ServiceInstances`).toBe(true);
      expect(
        refused(
          await statusOf(
            client.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: "mutualis.fr", version: "v1alpha1", namespace, plural: "serviceinstances", body: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: "intrus" }, spec: { service: "actes" } } }),
          ),
        ),
        `${anonymous} creates a ServiceInstance in A's namespace`,
      ).toBe(true);
    }
  });

  it("the gateway: B's administrator is refused A's services (403), and an anonymous caller is refused all (401)", async () => {
    const bAdmin = await identity.tokenFor(b.admin, { [b.name]: ["administrateur"] });
    for (const path of [`/api/v1/tenants/${a.name}/actes/list`, `/api/v1/tenants/${a.name}/sesf/shares.list`, `/api/v1/tenants/${a.name}/service-instances`]) {
      expect(await gatewayStatus(path, bAdmin), `B's administrator on ${path}`).toBe(403);
      expect(await gatewayStatus(path), `anonymous on ${path}`).toBe(401);
    }
  });

  it("NATS: B's user may neither publish to nor listen on A's subjects, and a client without credentials is not let in", async () => {
    const bUser = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(Buffer.from(await secretValue(`coll-${b.name}`, "nats-credentials", "user.creds"))) });
    connections.push(bUser);
    const violations = violationsOf(bUser);
    bUser.publish(`tenant.${a.name}.sesf.shares.list`, "{}");
    await bUser.flush().catch(() => undefined);
    bUser.subscribe(`tenant.${a.name}.>`);
    await bUser.flush().catch(() => undefined);
    await eventually("both to be refused", async () =>
      violations.some((v) => v.includes(`Permissions Violation for Publish to "tenant.${a.name}.sesf.shares.list"`)) && violations.some((v) => v.includes(`Permissions Violation for Subscription to "tenant.${a.name}.>"`)) ? true : undefined,
    10_000);
    await expect(connect({ servers: platform.env.NATS_URL, reconnect: false, timeout: 5000 })).rejects.toThrow(/authorization/i);
  });

  it("the database: B's role reads, writes and lists nothing of A's database, and a client naming no role can do nothing", async () => {
    const ca = await secretValue(`coll-${b.name}`, "database", "MONGODB_CA");
    const bUri = await secretValue(`coll-${b.name}`, "database", "MONGODB_URI");
    const aDatabase = await secretValue(`coll-${a.name}`, "database", "MONGODB_DATABASE");
    const anonymousUri = (() => {
      const url = new URL(bUri);
      url.username = "";
      url.password = "";
      url.searchParams.delete("authMechanism");
      url.searchParams.delete("authSource");
      return url.toString();
    })();
    for (const [who, uri] of [["B's role", bUri], ["anonymous", anonymousUri]] as const) {
      const client = await mongoAs(uri, ca);
      await expect(client.db(aDatabase).collection("_tenant").findOne({}), `${who} reads A`).rejects.toThrow(/permission denied/);
      await expect(client.db(aDatabase).collection("_tenant").insertOne({ forged: true }), `${who} writes A`).rejects.toThrow(/permission denied/);
      const listed = (await client.db("admin").admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name);
      expect(listed, `${who} lists databases`).not.toContain(aDatabase);
    }
  });

  it("share links: B's link opens nothing of A's share (404), and a made-up link opens nothing (403, as a wrong password)", async () => {
    // Each link opens its own share.
    expect((await fetch(`${sesf.url}/api/v1/links/${shareA.link}/files/${shareA.fileId}`)).status).toBe(200);
    expect((await fetch(`${sesf.url}/api/v1/links/${shareB.link}/files/${shareA.fileId}`)).status).toBe(404);
    // An unknown link gets the answer a wrong password gets: nobody learns whether a share exists.
    const madeUp = "A".repeat(shareA.link.length);
    expect((await fetch(`${sesf.url}/api/v1/links/${madeUp}`)).status).toBe(403);
    expect((await fetch(`${sesf.url}/api/v1/links/${madeUp}/files/${shareA.fileId}`)).status).toBe(403);
  });
});
