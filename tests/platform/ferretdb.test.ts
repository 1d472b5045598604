import { randomBytes } from "node:crypto";
import { MongoClient } from "mongodb";
import { afterAll, describe, expect, it } from "vitest";
import { restart } from "@mutualis/local-platform";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const database = `platform_test_${randomBytes(3).toString("hex")}`;
const clients: MongoClient[] = [];

async function client(): Promise<MongoClient> {
  const c = new MongoClient(platform.env.MONGODB_URI, { serverSelectionTimeoutMS: 5000 });
  clients.push(c);
  return c.connect();
}

describe("FerretDB on PostgreSQL", () => {
  afterAll(async () => {
    const c = await client();
    await c.db(database).dropDatabase().catch(() => undefined);
    await Promise.all(clients.map((c) => c.close()));
  });

  it("when the official driver writes documents, then it reads them back, also after FerretDB and PostgreSQL restart", async () => {
    const collectivities = (await client()).db(database).collection("collectivities");
    await collectivities.insertMany([
      { siren: "213502388", name: "Rennes", category: "commune" },
      { siren: "212900195", name: "Brest", category: "commune" },
    ]);
    const before = await collectivities.find({}, { projection: { _id: 0 } }).sort({ name: 1 }).toArray();
    expect(before.map((d) => d.name)).toEqual(["Brest", "Rennes"]);

    for (const component of ["ferretdb", "postgresql"]) {
      await restart(platform.config, component);
      const after = await eventually(`${component} to answer again`, async () => {
        const reopened = (await client()).db(database).collection("collectivities");
        return reopened.find({}, { projection: { _id: 0 } }).sort({ name: 1 }).toArray();
      }, 30_000);
      expect(after).toEqual(before);
    }
  });
});
