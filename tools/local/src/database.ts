import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { databaseBootstrapSql, databaseRoles } from "@mutualis/cdk8s";
import pg from "pg";
import type { PlatformConfig } from "./config.ts";
import { layout } from "./layout.ts";

/**
 * The platform's database on the local platform, as in production: FerretDB on PostgreSQL
 * (Debian's, a cluster of its own under `.local/`, on its own port). The roles and what each may
 * do are the hosting lot's (databaseRoles); the operator makes one per collectivity and per
 * shared service.
 */
export const databaseName = databaseRoles.database;
const superuser = "postgres";

export interface DatabaseSecrets {
  readonly superuserPassword: string;
  readonly ferretdbPassword: string;
  readonly adminPassword: string;
}

function secretFile(file: string): string {
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString("base64url"), { mode: 0o600 });
  return readFileSync(file, "utf8").trim();
}

/** The roles' passwords, made once under `.local/database`, readable by their owner only. */
export function databaseSecrets(config: PlatformConfig): DatabaseSecrets {
  const dir = layout(config).database;
  // The platform's directory first, with the usual mode: PostgreSQL's user must pass through it.
  mkdirSync(config.dir, { recursive: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    superuserPassword: secretFile(join(dir, "superuser-password")),
    ferretdbPassword: secretFile(join(dir, "ferretdb-password")),
    adminPassword: secretFile(join(dir, "admin-password")),
  };
}

/** The PostgreSQL programs of Debian's newest installed major version. */
export function postgresBin(program: string): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return join(root, versions[0] ?? "15", "bin", program);
}

/** PostgreSQL refuses to run as root: as root, the cluster belongs to Debian's postgres user. */
export function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    return undefined;
  }
}

/** Creates the cluster once: scram-sha-256 for every connection, and no Unix socket. */
export function initCluster(config: PlatformConfig): void {
  const { postgresql } = layout(config);
  if (existsSync(join(postgresql, "PG_VERSION"))) return;
  const user = postgresUser();
  if (process.getuid?.() === 0 && !user) {
    throw new Error("PostgreSQL cannot run as root and there is no postgres user (install Debian's postgresql package: make setup)");
  }
  rmSync(postgresql, { recursive: true, force: true });
  mkdirSync(postgresql, { recursive: true, mode: 0o700 });
  const pwfile = join(postgresql, "..", ".pg-superuser-password");
  writeFileSync(pwfile, databaseSecrets(config).superuserPassword + "\n", { mode: 0o600 });
  try {
    if (user) {
      chownSync(postgresql, user.uid, user.gid);
      chownSync(pwfile, user.uid, user.gid);
    }
    execFileSync(
      postgresBin("initdb"),
      ["-D", postgresql, "-U", superuser, `--pwfile=${pwfile}`, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
      { stdio: ["ignore", "ignore", "pipe"], ...(user ?? {}) },
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** The server's settings, given on its command line. */
export function postgresArgs(config: PlatformConfig): string[] {
  const args = [
    "-D", layout(config).postgresql,
    "-h", "127.0.0.1",
    "-p", String(config.ports.postgresql),
    "-c", "unix_socket_directories=",
    // FerretDB keeps a pool per role (tools/local caps each at 8): the operator, the services
    // and the collectivities' workloads, each role its own.
    "-c", "max_connections=400",
    "-c", "password_encryption=scram-sha-256",
    // Its shared memory in files of its own directory, not /dev/shm: nothing is left outside .local.
    "-c", "dynamic_shared_memory_type=mmap",
  ];
  if (config.unsafeFastStorage) args.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
  return args;
}

const url = (config: PlatformConfig, role: string, password: string, database: string) =>
  `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${config.ports.postgresql}/${database}`;

/** The operator's PostgreSQL address (role management). */
export function adminPostgresUrl(config: PlatformConfig): string {
  return url(config, databaseRoles.admin, databaseSecrets(config).adminPassword, databaseName);
}

/** FerretDB's connection: its own role, and a pool of 8 per role. */
export function ferretdbPostgresUrl(config: PlatformConfig): string {
  return `${url(config, databaseRoles.ferretdb, databaseSecrets(config).ferretdbPassword, databaseName)}?pool_max_conns=8`;
}

/** The administrator's MongoDB address (over TLS, PLAIN): the operator's and the tests'. */
export function adminMongoUri(config: PlatformConfig, caFile: string): string {
  return mongoUri(config, databaseRoles.admin, databaseSecrets(config).adminPassword, caFile);
}

/** A role's MongoDB address on the local FerretDB: TLS only, the local CA, PLAIN over it. */
export function mongoUri(config: PlatformConfig, role: string, password: string, caFile: string): string {
  const params = new URLSearchParams({ directConnection: "true", tls: "true", tlsCAFile: caFile, authMechanism: "PLAIN", authSource: "$external" });
  return `mongodb://${encodeURIComponent(role)}:${encodeURIComponent(password)}@127.0.0.1:${config.ports.ferretdb}/?${params}`;
}

async function withSuperuser<T>(config: PlatformConfig, database: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url(config, superuser, databaseSecrets(config).superuserPassword, database) });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * The database and the platform's roles, made or brought back in line at every start by the
 * lot's own script (run with psql, as the production image's init does): the passwords are
 * those of `.local/database`, given on psql's standard input.
 */
export function bootstrapDatabase(config: PlatformConfig): void {
  const secrets = databaseSecrets(config);
  const quoted = (value: string) => `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  const script = [`\\set ferretdb_password ${quoted(secrets.ferretdbPassword)}`, `\\set admin_password ${quoted(secrets.adminPassword)}`, databaseBootstrapSql()].join("\n");
  execFileSync(postgresBin("psql"), ["--no-psqlrc", "--quiet", "-h", "127.0.0.1", "-p", String(config.ports.postgresql), "-U", superuser, "-d", "postgres", "-f", "-"], {
    input: script,
    // The superuser's password in the environment, not on the command line.
    env: { ...process.env, PGPASSWORD: secrets.superuserPassword },
    stdio: ["pipe", "ignore", "pipe"],
  });
}

/** The server accepts the superuser's queries (it may listen while still starting up). */
export async function postgresAnswers(config: PlatformConfig): Promise<boolean> {
  try {
    await withSuperuser(config, "postgres", (sql) => sql.query("SELECT 1"));
    return true;
  } catch {
    return false;
  }
}

