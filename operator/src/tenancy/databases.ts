import { randomBytes } from "node:crypto";
import pg from "pg";
import { databaseCatalogRole } from "../constants.ts";
import { parseWireAddress, WireClient, type WireAddress } from "./wire.ts";

export class DatabaseError extends Error {
  override name = "DatabaseError";
}

/** A PostgreSQL role that owns one database: a collectivity's, or a shared service's. */
export interface DatabaseRole {
  /** Random, so that no one can name another's role: FerretDB ties some things to the name. */
  readonly user: string;
  readonly password: string;
}

/** What a workload connects with; never logged. */
export interface DatabaseConnection {
  readonly database: string;
  readonly uri: string;
  /** The CA that signed the database's TLS certificate, when it is a private one. */
  readonly caPem?: string;
}

export interface DatabaseOptions {
  /**
   * FerretDB, as the platform's administrative role, over TLS (`tlsCAFile` names the CA handed to
   * workloads). Databases are created through FerretDB, so that its catalog knows them.
   */
  readonly uri: string;
  /** PostgreSQL, as the same role: it makes the roles and hands each database to its own. */
  readonly postgresUrl: string;
}

/** A new role: `t_` (a collectivity's) or `s_` (a shared service's) and 24 random hex digits. */
export function newDatabaseRole(kind: "tenant" | "service"): DatabaseRole {
  return { user: `${kind === "tenant" ? "t" : "s"}_${randomBytes(12).toString("hex")}`, password: randomBytes(24).toString("base64url") };
}

/** Role names the operator makes: any other is left alone. */
export const managedRole = /^[ts]_[0-9a-f]{24}$/;

/**
 * The address a role's workloads use: the platform's server and options, the role's name and
 * password, its database; the CA travels beside it (`caPem`), not as a path of the operator's.
 */
export function roleConnectionUri(platformUri: string, database: string, role: DatabaseRole): string {
  const url = new URL(platformUri);
  url.username = encodeURIComponent(role.user);
  url.password = encodeURIComponent(role.password);
  url.searchParams.delete("tlsCAFile");
  url.searchParams.set("authMechanism", "PLAIN");
  url.searchParams.set("authSource", "$external");
  url.pathname = `/${database}`;
  return url.toString();
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * One database per collectivity and per shared service on the platform's FerretDB, each owned by
 * a PostgreSQL role of its own: PostgreSQL's grants keep every role to its database, and FerretDB
 * (patched, tools/ferretdb) shows a role only its own databases and cursors.
 */
export class Databases {
  private readonly address: WireAddress;
  private readonly wire: WireClient;
  private readonly sql: pg.Pool;
  /** Databases already prepared by this process with this role and password. */
  private readonly prepared = new Map<string, string>();

  constructor(private readonly options: DatabaseOptions) {
    // One connection: role statements run one after the other, never racing on a catalog row.
    this.sql = new pg.Pool({ connectionString: options.postgresUrl, max: 1, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
    this.sql.on("error", () => undefined); // an idle connection lost: the next query opens another
    try {
      this.address = parseWireAddress(options.uri);
    } catch (error) {
      throw new DatabaseError((error as Error).message, { cause: error });
    }
    this.wire = new WireClient(this.address, { appName: "mutualis-operator" });
  }

  /** A command to FerretDB; `what` says what it was for, in the error. */
  private async command(what: string, db: string, command: Record<string, unknown>): Promise<Record<string, unknown>> {
    try {
      return await this.wire.command(db, command);
    } catch (error) {
      throw new DatabaseError(`${what}: ${(error as Error).message}`, { cause: error });
    }
  }

  private async query(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.sql.query(text, values);
    } catch (error) {
      // PostgreSQL's messages name objects, never passwords (they travel as literals only in
      // CREATE/ALTER ROLE, whose errors are about the role).
      throw new DatabaseError(`the platform database refused a role statement: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Makes the database (through FerretDB, with a marker document) and its role, or brings them
   * back in line: the role may log in with this password, owns the database, reads the catalog.
   */
  async ensure(database: string, role: DatabaseRole, marker: Record<string, unknown>): Promise<DatabaseConnection> {
    if (!managedRole.test(role.user)) throw new DatabaseError(`refusing to manage role ${role.user}: not a role the operator makes`);
    if (this.prepared.get(database) !== `${role.user}:${role.password}`) {
      await this.command(`could not prepare database ${database}`, database, {
        update: "_tenant",
        updates: [{ q: { _id: "tenant" }, u: { $setOnInsert: { ...marker, createdAt: new Date() } }, upsert: true }],
      });
      await this.handOver(database, role);
      this.prepared.set(database, `${role.user}:${role.password}`);
    }
    return this.connection(database, role);
  }

  private async handOver(database: string, role: DatabaseRole): Promise<void> {
    const exists = (await this.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role.user])).rowCount! > 0;
    await this.query(
      `${exists ? "ALTER" : "CREATE"} ROLE ${ident(role.user)} LOGIN NOCREATEDB NOCREATEROLE PASSWORD ${literal(role.password)}` +
        (exists ? "" : ` IN ROLE ${ident(databaseCatalogRole)}`),
    );
    // The administrative role is a member of each role it makes, to hand over, rotate and drop.
    const member = await this.query("SELECT pg_has_role(current_user, $1, 'MEMBER') AS member", [role.user]);
    if (!member.rows[0].member) await this.query(`GRANT ${ident(role.user)} TO current_user`);
    await this.query(`ALTER SCHEMA ${ident(database)} OWNER TO ${ident(role.user)}`);
    const tables = await this.query("SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tableowner <> $2", [database, role.user]);
    for (const { tablename } of tables.rows as { tablename: string }[]) {
      await this.query(`ALTER TABLE ${ident(database)}.${ident(tablename)} OWNER TO ${ident(role.user)}`);
    }
    await this.query(`GRANT USAGE ON SCHEMA ${ident(database)} TO ${ident(databaseCatalogRole)}`);
    await this.query(`GRANT SELECT ON ${ident(database)}._ferretdb_database_metadata TO ${ident(databaseCatalogRole)}`);
  }

  private connection(database: string, role: DatabaseRole): DatabaseConnection {
    return { database, uri: roleConnectionUri(this.options.uri, database, role), ...(this.address.ca ? { caPem: this.address.ca } : {}) };
  }

  /** Ends the role's sessions: a new password or NOLOGIN holds from the next connection only. */
  private async endSessions(user: string): Promise<void> {
    await this.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [user]);
  }

  /** A new password for the role: the old one opens nothing from now on. */
  async rotate(database: string, role: DatabaseRole, marker: Record<string, unknown>): Promise<DatabaseConnection> {
    const connection = await this.ensure(database, role, marker);
    await this.endSessions(role.user);
    return connection;
  }

  /** Keeps the data and the role, which may no longer log in (deletion policy Retain). */
  async retain(role: Pick<DatabaseRole, "user">): Promise<void> {
    if (!(await this.roleExists(role.user))) return;
    await this.query(`ALTER ROLE ${ident(role.user)} NOLOGIN`);
    await this.endSessions(role.user);
    for (const [database, key] of this.prepared) if (key.startsWith(`${role.user}:`)) this.prepared.delete(database);
  }

  /** Drops the database and its role (deletion policy Delete). */
  async drop(database: string, role: Pick<DatabaseRole, "user"> | undefined): Promise<void> {
    this.prepared.delete(database);
    if (role && (await this.roleExists(role.user))) {
      await this.query(`ALTER ROLE ${ident(role.user)} NOLOGIN`);
      await this.endSessions(role.user);
    }
    await this.command(`could not drop database ${database}`, database, { dropDatabase: 1 });
    if (role && (await this.roleExists(role.user))) {
      await this.query(`DROP OWNED BY ${ident(role.user)}`);
      await this.query(`DROP ROLE ${ident(role.user)}`);
    }
  }

  private async roleExists(user: string): Promise<boolean> {
    return (await this.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [user])).rowCount! > 0;
  }

  async exists(database: string): Promise<boolean> {
    const { databases } = await this.command("could not list the databases", "admin", { listDatabases: 1, nameOnly: true });
    return (databases as { name: string }[]).some((d) => d.name === database);
  }

  /** The roles the operator made that still exist, and whether each may log in. */
  async roles(): Promise<{ user: string; login: boolean }[]> {
    const result = await this.query("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname ~ '^[ts]_[0-9a-f]{24}$' ORDER BY rolname");
    return (result.rows as { rolname: string; rolcanlogin: boolean }[]).map((r) => ({ user: r.rolname, login: r.rolcanlogin }));
  }

  async close(): Promise<void> {
    await this.wire.close();
    await this.sql.end();
  }
}
