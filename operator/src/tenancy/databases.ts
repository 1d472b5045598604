import { MongoClient } from "mongodb";
import { tenantDatabase } from "../constants.ts";

export class DatabaseError extends Error {
  override name = "DatabaseError";
}

export interface TenantDatabase {
  readonly database: string;
  /** What the tenant's workloads connect with; never logged. */
  readonly uri: string;
}

export interface DatabaseOptions {
  readonly uri: string;
  /**
   * Create one user per tenant, allowed on its own database only. MongoDB supports it;
   * FerretDB on SQLite has no users, so the local platform runs without.
   */
  readonly perTenantUsers: boolean;
}

/**
 * The URI a tenant's workloads use: the platform's server, the tenant's database, and, where
 * the server has per-tenant users, the tenant's own user (authenticated against its database).
 */
export function tenantConnectionUri(platformUri: string, database: string, password?: string): string {
  const url = new URL(platformUri);
  url.username = "";
  url.password = "";
  if (password) {
    url.username = encodeURIComponent(database);
    url.password = encodeURIComponent(password);
    url.searchParams.set("authSource", database);
  }
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * One database per tenant on the platform's MongoDB-compatible server. A marker document
 * records which collectivity the database belongs to, which also creates the database.
 */
export class TenantDatabases {
  private client: MongoClient | undefined;
  /** Databases already prepared by this process: reconciles after the first need not write again. */
  private readonly prepared = new Map<string, string | undefined>();

  constructor(private readonly options: DatabaseOptions) {}

  private async connection(): Promise<MongoClient> {
    if (!this.client) {
      this.client = new MongoClient(this.options.uri, { serverSelectionTimeoutMS: 5000, appName: "mutualis-operator" });
    }
    try {
      await this.client.connect();
    } catch (error) {
      throw new DatabaseError(`cannot reach the platform database: ${(error as Error).message}`, { cause: error });
    }
    return this.client;
  }

  async ensure(collectivity: string, siren: string, password?: string): Promise<TenantDatabase> {
    const name = tenantDatabase(collectivity);
    if (this.prepared.has(name) && this.prepared.get(name) === password) return { database: name, uri: this.tenantUri(name, password) };
    const client = await this.connection();
    const db = client.db(name);
    try {
      await db.collection("_tenant").updateOne(
        { _id: "tenant" as never },
        { $setOnInsert: { collectivity, siren, createdAt: new Date() } },
        { upsert: true },
      );
      if (this.options.perTenantUsers && password) {
        const exists = ((await db.command({ usersInfo: name })) as { users: unknown[] }).users.length > 0;
        await db.command(
          exists
            ? { updateUser: name, pwd: password, roles: [{ role: "readWrite", db: name }] }
            : { createUser: name, pwd: password, roles: [{ role: "readWrite", db: name }] },
        );
      }
    } catch (error) {
      throw new DatabaseError(`could not prepare database ${name}: ${(error as Error).message}`, { cause: error });
    }
    this.prepared.set(name, password);
    return { database: name, uri: this.tenantUri(name, password) };
  }

  private tenantUri(database: string, password?: string): string {
    return tenantConnectionUri(this.options.uri, database, this.options.perTenantUsers ? password : undefined);
  }

  async drop(collectivity: string): Promise<void> {
    const name = tenantDatabase(collectivity);
    this.prepared.delete(name);
    const client = await this.connection();
    try {
      if (this.options.perTenantUsers) await client.db(name).command({ dropUser: name }).catch(() => undefined);
      await client.db(name).dropDatabase();
    } catch (error) {
      throw new DatabaseError(`could not drop database ${name}: ${(error as Error).message}`, { cause: error });
    }
  }

  async exists(collectivity: string): Promise<boolean> {
    const client = await this.connection();
    const { databases } = await client.db("admin").admin().listDatabases({ nameOnly: true });
    return databases.some((d) => d.name === tenantDatabase(collectivity));
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}
