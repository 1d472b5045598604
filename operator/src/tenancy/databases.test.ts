import { describe, expect, it } from "vitest";
import { tenantConnectionUri } from "./databases.ts";

describe("tenantConnectionUri", () => {
  it("when the server has no users (FerretDB on SQLite), then the tenant gets the platform's server and its own database", () => {
    expect(tenantConnectionUri("mongodb://127.0.0.1:16017/?directConnection=true", "coll_rennes")).toBe(
      "mongodb://127.0.0.1:16017/coll_rennes?directConnection=true",
    );
  });

  it("when the server has per-tenant users, then the tenant's user and password replace the platform's, authenticated on its database", () => {
    expect(tenantConnectionUri("mongodb://operator:s3cret@mongo-0.mongo:27017/admin?replicaSet=rs0", "coll_rennes", "p@ss/word")).toBe(
      "mongodb://coll_rennes:p%40ss%2Fword@mongo-0.mongo:27017/coll_rennes?replicaSet=rs0&authSource=coll_rennes",
    );
  });
});
