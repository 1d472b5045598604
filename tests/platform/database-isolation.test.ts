import { Long, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Databases, newDatabaseRole, type DatabaseConnection, type DatabaseRole } from "@mutualis/operator";
import { testPlatform } from "../support/platform.ts";

/**
 * The database's tenant boundaries, held by PostgreSQL's grants and the project's FerretDB patch,
 * tried with the operator's own code against the platform's FerretDB on PostgreSQL: one role per
 * collectivity, one per shared service; anonymous clients, other tenants and plaintext refused.
 */
const platform = testPlatform();
const databases = new Databases({ uri: platform.env.MONGODB_URI, postgresUrl: platform.env.DATABASE_ADMIN_URL });
const suffix = Date.now().toString(36);
const names = { a: `iso_a_${suffix}`, b: `iso_b_${suffix}`, service: `iso_s_${suffix}` };
const roles = { a: newDatabaseRole("tenant"), b: newDatabaseRole("tenant"), service: newDatabaseRole("service") };
const clients: MongoClient[] = [];
let a: DatabaseConnection;
let b: DatabaseConnection;
let service: DatabaseConnection;

async function connect(connection: { uri: string; caPem?: string }): Promise<MongoClient> {
  const client = new MongoClient(connection.uri, { serverSelectionTimeoutMS: 5000, ...(connection.caPem ? { ca: connection.caPem } : {}) });
  clients.push(client);
  return client.connect();
}

/** The same server and options as a role's address, with another name and password. */
function as(connection: DatabaseConnection, role: Partial<DatabaseRole>): { uri: string; caPem?: string } {
  const url = new URL(connection.uri);
  if (role.user !== undefined) url.username = role.user;
  if (role.password !== undefined) url.password = role.password;
  return { uri: url.toString(), caPem: connection.caPem };
}

function anonymous(connection: DatabaseConnection): { uri: string; caPem?: string } {
  const url = new URL(connection.uri);
  url.username = "";
  url.password = "";
  url.searchParams.delete("authMechanism");
  url.searchParams.delete("authSource");
  return { uri: url.toString(), caPem: connection.caPem };
}

/**
 * Every attempt is refused, ending with `reason`: the sessions the operator ended may each fail
 * once (PostgreSQL's "terminating connection") before FerretDB opens a new one, which is refused.
 */
async function refusedFromNowOn(attempt: () => Promise<unknown>, reason: RegExp): Promise<void> {
  for (let i = 0; i < 12; i++) {
    const error = await attempt().then(
      () => new Error("an attempt succeeded with credentials that should open nothing"),
      (e: Error) => e,
    );
    if (error.message.startsWith("an attempt succeeded")) throw error;
    if (reason.test(error.message)) return;
    expect(error.message).toMatch(/terminating connection|conn closed|unexpected EOF|connection reset/i);
  }
  throw new Error(`never refused with ${reason}`);
}

beforeAll(async () => {
  a = await databases.ensure(names.a, roles.a, { collectivity: "iso-a" });
  b = await databases.ensure(names.b, roles.b, { collectivity: "iso-b" });
  service = await databases.ensure(names.service, roles.service, { service: "iso" });
  const writer = await connect(b);
  await writer.db(names.b).collection("acts").insertMany(Array.from({ length: 50 }, (_, i) => ({ i, secret: "B" })));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const key of ["a", "b", "service"] as const) await databases.drop(names[key], roles[key]).catch(() => undefined);
  await databases.close();
});

describe("the platform database's tenant boundaries", () => {
  it("when a collectivity's role connects, then it reads and writes its own database and makes collections there", async () => {
    expect(a.uri).toContain(roles.a.user);
    expect(a.caPem).toContain("BEGIN CERTIFICATE");
    const client = await connect(a);
    await client.db(names.a).collection("documents").insertOne({ title: "délibération" });
    expect(await client.db(names.a).collection("documents").countDocuments()).toBe(1);
    expect(await client.db(names.a).collection("_tenant").findOne({})).toMatchObject({ collectivity: "iso-a" });
  });

  it("when a collectivity's role reaches for another's database, then it reads, writes and lists nothing of it", async () => {
    const client = await connect(a);
    const other = client.db(names.b);
    await expect(other.collection("acts").findOne({})).rejects.toThrow(/permission denied/);
    await expect(other.collection("acts").insertOne({ forged: true })).rejects.toThrow(/permission denied/);
    await expect(other.collection("new_collection").insertOne({ forged: true })).rejects.toThrow(/permission denied/);
    await expect(other.dropDatabase()).rejects.toThrow();
    expect(await other.listCollections().toArray()).toEqual([]);
    await expect(other.collection("acts").listIndexes().toArray()).rejects.toThrow(/ns does not exist/);
    const listed = (await client.db("admin").admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name);
    expect(listed).toEqual([names.a]);
    // Nor may it make a database of its own beside the platform's.
    await expect(client.db(`iso_new_${suffix}`).collection("x").insertOne({})).rejects.toThrow(/permission denied/);
    // B's documents are all there.
    expect(await (await connect(b)).db(names.b).collection("acts").countDocuments({ forged: { $exists: true } })).toBe(0);
  });

  it("when a client names no role, then it can do nothing and is shown no database", async () => {
    const client = await connect(anonymous(b));
    await expect(client.db(names.b).collection("acts").findOne({})).rejects.toThrow(/permission denied/);
    await expect(client.db(names.b).collection("acts").insertOne({ forged: true })).rejects.toThrow(/permission denied/);
    expect((await client.db("admin").admin().listDatabases()).databases).toEqual([]);
  });

  it("when a client knows another tenant's role name but not its password, then it can neither log in nor continue that tenant's open cursor", async () => {
    const owner = await connect(b);
    const opened = await owner.db(names.b).command({ find: "acts", batchSize: 2 });
    const cursor = Long.fromString(String(opened.cursor.id));
    expect(cursor.isZero()).toBe(false);
    const impostor = await connect(as(b, { password: "a guess" }));
    await expect(impostor.db(names.b).collection("acts").findOne({})).rejects.toThrow(/password authentication failed/);
    await expect(impostor.db(names.b).command({ getMore: cursor, collection: "acts", batchSize: 10 })).rejects.toThrow(/cursor id \d+ not found/);
    const killed = await impostor.db(names.b).command({ killCursors: "acts", cursors: [cursor] });
    expect(killed.cursorsKilled).toEqual([]);
    // Another tenant's own role does no better.
    await expect((await connect(a)).db(names.b).command({ getMore: cursor, collection: "acts", batchSize: 10 })).rejects.toThrow(/cursor id \d+ not found/);
    // The owner still reads on.
    const next = await owner.db(names.b).command({ getMore: cursor, collection: "acts", batchSize: 2 });
    expect(next.cursor.nextBatch).toHaveLength(2);
  });

  it("when a shared service's role connects, then it reaches its own database only", async () => {
    const client = await connect(service);
    await client.db(names.service).collection("flows").insertOne({ ok: true });
    await expect(client.db(names.b).collection("acts").findOne({})).rejects.toThrow(/permission denied/);
    await expect(client.db(names.a).collection("documents").findOne({})).rejects.toThrow(/permission denied/);
    expect((await client.db("admin").admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name)).toEqual([names.service]);
  });

  it("when a client speaks without TLS, then the server does not answer it: passwords never travel in clear", async () => {
    const url = new URL(anonymous(a).uri);
    url.searchParams.set("tls", "false");
    url.searchParams.delete("tlsCAFile");
    const plain = new MongoClient(url.toString(), { serverSelectionTimeoutMS: 1500 });
    clients.push(plain);
    await expect(plain.connect()).rejects.toThrow();
  });

  it("when a role's credentials are rotated, then the old password opens nothing, even on connections already open", async () => {
    const before = await connect(a);
    expect(await before.db(names.a).collection("documents").countDocuments()).toBe(1);
    const rotated = { user: roles.a.user, password: newDatabaseRole("tenant").password };
    a = await databases.rotate(names.a, rotated, { collectivity: "iso-a" });
    roles.a = rotated;
    await refusedFromNowOn(() => before.db(names.a).collection("documents").countDocuments(), /password authentication failed/);
    expect(await (await connect(a)).db(names.a).collection("documents").countDocuments()).toBe(1);
  });

  it("when a role is retained, then its data stays and no one logs in as it until it is ensured again", async () => {
    const client = await connect(b);
    expect(await client.db(names.b).collection("acts").countDocuments()).toBe(50);
    await databases.retain(roles.b);
    expect((await databases.roles()).find((r) => r.user === roles.b.user)).toEqual({ user: roles.b.user, login: false });
    await refusedFromNowOn(() => client.db(names.b).collection("acts").countDocuments(), /not permitted to log in/);
    b = await databases.ensure(names.b, roles.b, { collectivity: "iso-b" });
    expect(await (await connect(b)).db(names.b).collection("acts").countDocuments()).toBe(50);
  });

  it("when a database is dropped with its role, then neither remains", async () => {
    const name = `iso_d_${suffix}`;
    const role = newDatabaseRole("tenant");
    await databases.ensure(name, role, { collectivity: "iso-d" });
    expect(await databases.exists(name)).toBe(true);
    await databases.drop(name, role);
    expect(await databases.exists(name)).toBe(false);
    expect((await databases.roles()).some((r) => r.user === role.user)).toBe(false);
  });
});
