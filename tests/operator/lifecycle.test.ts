import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import { collectivityManifest, deleteCollectivity, readCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const objects = KubernetesObjectApi.makeApiClient(kc);
let operator: RunningOperator;

async function setSuspended(name: string, suspended: boolean): Promise<void> {
  await objects.patch(
    { apiVersion: "mutualis.fr/v1alpha1", kind: "Collectivity", metadata: { name }, spec: { suspended } } as KubernetesObject,
    undefined,
    undefined,
    undefined,
    undefined,
    PatchStrategy.MergePatch,
  );
}

async function creds(namespace: string): Promise<Uint8Array> {
  const secret = await core.readNamespacedSecret({ name: "nats-credentials", namespace });
  return Buffer.from(secret.data!["user.creds"]!, "base64");
}

/**
 * "ok" when the creds connect to NATS, else the server's reason. The timeout outlasts the
 * server's own account-resolver lookup (5 s), after which it answers with an authorization error.
 */
async function natsLogin(userCreds: Uint8Array): Promise<string> {
  try {
    const nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(userCreds), reconnect: false, timeout: 10_000 });
    await nc.close();
    return "ok";
  } catch (error) {
    return String((error as Error).message);
  }
}

async function databaseNames(): Promise<string[]> {
  const client = await new MongoClient(platform.env.MONGODB_URI).connect();
  try {
    return (await client.db("admin").admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name);
  } finally {
    await client.close();
  }
}

/** The tenant's own database connection, from its `database` Secret, as its workloads make it. */
async function tenantDatabase(name: string): Promise<{ client: MongoClient; database: string; user: string }> {
  const data = (await core.readNamespacedSecret({ name: "database", namespace: `coll-${name}` })).data!;
  const text = (key: string) => Buffer.from(data[key]!, "base64").toString("utf8");
  const uri = text("MONGODB_URI");
  const client = await new MongoClient(uri, { ca: text("MONGODB_CA"), serverSelectionTimeoutMS: 5000 }).connect();
  return { client, database: text("MONGODB_DATABASE"), user: decodeURIComponent(new URL(uri).username) };
}

/** The operator's database roles, and whether each may log in. */
async function databaseRoles(): Promise<Map<string, boolean>> {
  const sql = new pg.Client({ connectionString: platform.env.DATABASE_ADMIN_URL });
  await sql.connect();
  try {
    const { rows } = await sql.query("SELECT rolname, rolcanlogin FROM pg_roles");
    return new Map(rows.map((r: { rolname: string; rolcanlogin: boolean }) => [r.rolname, r.rolcanlogin]));
  } finally {
    await sql.end();
  }
}

/** Leaves data behind as a tenant's services would: a document (with the tenant's own role) and a JetStream message. */
async function writeTenantData(name: string): Promise<string> {
  const { client, database, user } = await tenantDatabase(name);
  await client.db(database).collection("actes").insertOne({ numero: "D2026_001" });
  await client.close();
  const nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(await creds(`coll-${name}`)) });
  // A collectivity's account requires every stream to state its maximum (its JetStream limits).
  await (await jetstreamManager(nc)).streams.add({ name: "ACTES", subjects: [`tenant.${name}.actes.>`], max_bytes: 64 * 2 ** 20 });
  await jetstream(nc).publish(`tenant.${name}.actes.sent`, "D2026_001");
  await nc.close();
  return user;
}

async function eventReasons(name: string): Promise<string[]> {
  const events = await core.listNamespacedEvent({ namespace: "default", fieldSelector: `involvedObject.name=${name}` });
  return events.items.map((e) => e.reason ?? "");
}

describe("suspending, resuming and deleting a tenant", () => {
  beforeAll(async () => {
    operator = await startTestOperator();
  });
  afterAll(async () => {
    for (const name of ["t-quimper", "t-vannes", "t-lorient"]) await deleteCollectivity(kc, name);
    for (const name of ["t-quimper", "t-vannes", "t-lorient"]) await waitForGone(kc, name);
    await operator.stop();
  });

  it("when a tenant is suspended, then its NATS user is refused and its workloads scaled to zero; resuming restores both", async () => {
    await objects.create(collectivityManifest({ name: "t-quimper", siren: "212902324", population: 63_000 }));
    await waitForReady(kc, "t-quimper");
    const namespace = "coll-t-quimper";
    await eventually("the Deployment to be admitted", () =>
      apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name: "portail" },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: "portail" } },
            template: {
              metadata: { labels: { app: "portail" } },
              spec: {
                securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
                containers: [{ name: "app", image: "registry.invalid/portail:1", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
              },
            },
          },
        },
      }),
    );
    const userCreds = await creds(namespace);
    expect(await natsLogin(userCreds)).toBe("ok");

    await setSuspended("t-quimper", true);
    const suspended = await waitForReady(kc, "t-quimper", "False", "Suspended");
    expect(suspended.status?.conditions?.find((c) => c.type === "Ready")?.message).toContain("set spec.suspended to false to resume");
    const scaledDown = await apps.readNamespacedDeployment({ name: "portail", namespace });
    expect(scaledDown.spec?.replicas).toBe(0);
    expect(scaledDown.metadata?.annotations?.["mutualis.fr/replicas-before-suspension"]).toBe("2");
    expect(await natsLogin(userCreds)).toMatch(/authorization/i);

    await setSuspended("t-quimper", false);
    await waitForReady(kc, "t-quimper", "True", "Ready");
    const restored = await apps.readNamespacedDeployment({ name: "portail", namespace });
    expect(restored.spec?.replicas).toBe(2);
    expect(restored.metadata?.annotations?.["mutualis.fr/replicas-before-suspension"]).toBeUndefined();
    await eventually("the NATS user to be accepted again", async () => ((await natsLogin(userCreds)) === "ok" ? true : undefined), 10_000);
    expect(await eventReasons("t-quimper")).toEqual(expect.arrayContaining(["TenantReady", "Suspended", "Resumed"]));
  });

  it("when a tenant with deletionPolicy Retain is deleted, then its data is kept, an event says where, and creating it again gets it back", async () => {
    await objects.create(collectivityManifest({ name: "t-vannes", siren: sirenFrom("21560260"), population: 54_000 }));
    const first = await waitForReady(kc, "t-vannes");
    const role = await writeTenantData("t-vannes");

    await deleteCollectivity(kc, "t-vannes");
    await waitForGone(kc, "t-vannes");
    const retained = (await core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=t-vannes" })).items.find(
      (e) => e.reason === "TenantDataRetained",
    );
    expect(retained?.message).toContain("database coll_t_vannes (its role may no longer log in) and the streams of NATS account");
    expect(await databaseNames()).toContain("coll_t_vannes");
    expect((await databaseRoles()).get(role)).toBe(false);
    await eventually("the tenant namespace to be garbage-collected", async () =>
      (await core.listNamespace({ labelSelector: "mutualis.fr/collectivity=t-vannes" })).items.length === 0 ? true : undefined,
    90_000);

    await objects.create(collectivityManifest({ name: "t-vannes", siren: sirenFrom("21560260"), population: 54_000 }));
    const again = await waitForReady(kc, "t-vannes");
    expect(again.status?.natsAccount).toBe(first.status?.natsAccount);
    const nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(await creds("coll-t-vannes")) });
    const stream = await (await jetstreamManager(nc)).streams.get("ACTES");
    expect((await stream.info()).state.messages).toBe(1);
    await nc.close();
    // The same role logs in again and finds its document.
    const { client, database, user } = await tenantDatabase("t-vannes");
    expect(user).toBe(role);
    expect(await client.db(database).collection("actes").findOne({}, { projection: { _id: 0 } })).toEqual({ numero: "D2026_001" });
    await client.close();
  });

  it("when a tenant with deletionPolicy Delete is deleted, then its database, streams and account are dropped", async () => {
    await objects.create(collectivityManifest({ name: "t-lorient", siren: sirenFrom("21560121"), population: 57_000, deletionPolicy: "Delete" }));
    await waitForReady(kc, "t-lorient");
    const role = await writeTenantData("t-lorient");
    const userCreds = await creds("coll-t-lorient");
    expect(await databaseNames()).toContain("coll_t_lorient");

    await deleteCollectivity(kc, "t-lorient");
    await waitForGone(kc, "t-lorient");
    expect(await eventReasons("t-lorient")).toContain("TenantDataDeleted");
    expect(await databaseNames()).not.toContain("coll_t_lorient");
    expect((await databaseRoles()).has(role)).toBe(false);
    expect(await natsLogin(userCreds)).toMatch(/authorization/i);
    const keys = await core.listNamespacedSecret({ namespace: "mutualis-system", labelSelector: "mutualis.fr/collectivity=t-lorient" });
    expect(keys.items).toEqual([]);
  });

  it("when the operator's view of a deleted tenant is read, then nothing of it is left in the cluster", async () => {
    await expect(readCollectivity(kc, "t-lorient")).rejects.toBeDefined();
  });
});
