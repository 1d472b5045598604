/**
 * The platform database's own roles, the same locally and in production. FerretDB's own role may
 * do nothing, so a client that names no role can do nothing; every other client names its role,
 * whose PostgreSQL grants hold it to its own database:
 *
 * - `mutualis_ferretdb`: FerretDB's connection, the role of anonymous clients: no rights;
 * - `mutualis_admin`: the Mutualis operator's: makes databases (through FerretDB) and roles, and
 *   is a member of each role it makes, to hand over, rotate and drop;
 * - `mutualis_catalog`: reads the catalog of every database (FerretDB's metadata cache needs it)
 *   and no document; every role is a member. FerretDB, as tools/ferretdb patches it, shows a
 *   database only to the roles that may create in it.
 *
 * The operator makes the others: one per collectivity and one per shared service.
 */
export const databaseRoles = {
  database: "mutualis",
  ferretdb: "mutualis_ferretdb",
  admin: "mutualis_admin",
  catalog: "mutualis_catalog",
} as const;

/**
 * Makes the platform's database and roles, or brings them back in line: a psql script run by the
 * superuser, idempotent, taking the passwords as psql variables `ferretdb_password` and
 * `admin_password` (never on a command line: `\set` lines on its standard input, or `-v` from the
 * environment of the PostgreSQL image's init script).
 */
export function databaseBootstrapSql(): string {
  const { database, ferretdb, admin, catalog } = databaseRoles;
  const createRole = (role: string, options: string) =>
    `SELECT 'CREATE ROLE ${role} ${options}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}')\\gexec`;
  return [
    "\\set ON_ERROR_STOP on",
    `SELECT 'CREATE DATABASE ${database}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${database}')\\gexec`,
    createRole(catalog, "NOLOGIN"),
    createRole(ferretdb, "LOGIN"),
    createRole(admin, "LOGIN"),
    `ALTER ROLE ${catalog} NOLOGIN NOCREATEDB NOCREATEROLE;`,
    `ALTER ROLE ${ferretdb} LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'ferretdb_password';`,
    `ALTER ROLE ${admin} LOGIN NOCREATEDB CREATEROLE PASSWORD :'admin_password';`,
    // PUBLIC may not even connect: only the roles the platform makes, through the catalog role.
    `REVOKE ALL ON DATABASE ${database} FROM PUBLIC;`,
    `GRANT CONNECT ON DATABASE ${database} TO ${ferretdb}, ${catalog};`,
    `GRANT CONNECT, CREATE, TEMPORARY ON DATABASE ${database} TO ${admin};`,
    `GRANT ${catalog} TO ${ferretdb}, ${admin};`,
    `\\connect ${database}`,
    "REVOKE ALL ON SCHEMA public FROM PUBLIC;",
    "",
  ].join("\n");
}
