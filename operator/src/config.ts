import { readFileSync } from "node:fs";

import type { PlatformIdentity } from "./tenancy/platform-token.ts";
import { parseWireAddress } from "./tenancy/wire.ts";

export class OperatorConfigError extends Error {
  override name = "OperatorConfigError";
}

export interface OperatorConfig {
  /** Path to a kubeconfig; in a pod, the service account is used when this is not set. */
  readonly kubeconfig?: string;
  readonly platformNamespace: string;
  readonly zones: readonly string[];
  readonly natsUrl: string;
  /** The NATS URL tenants' workloads use (inside the cluster it differs from the operator's). */
  readonly natsUrlForTenants: string;
  readonly natsSystemCreds: Uint8Array;
  readonly natsOperatorSeed: Uint8Array;
  readonly mongodbUri: string;
  /** PostgreSQL under FerretDB, as the same administrative role: the operator makes the roles. */
  readonly databaseAdminUrl: string;
  readonly httpPort: number;
  readonly httpHost: string;
  readonly leaderElection: boolean;
  readonly workers: number;
  readonly resyncMs: number;
  readonly natsPortForPolicies: number;
  /** Where tenants reach their services, shown in ServiceInstance status. */
  readonly gatewayUrl: string;
  /** The one image of the services, without tag. */
  readonly servicesImage: string;
  /** Copies of the streams dedicated deployments make (their flows): the NATS cluster's size. */
  readonly natsStreamReplicas: number;
  readonly databasePortForPolicies: number;
  /**
   * Whether the operator installs the platform's cluster-wide objects itself (its namespace, the
   * zones' list, the zone admission policy), as on the local platform; the Helm chart installs
   * them instead, so the operator needs no right over admission policies.
   */
  readonly platformObjects: boolean;
  /**
   * The operator's client of the platform's identity service (IDENTITY_ISSUER,
   * OPERATOR_CLIENT_SECRET_FILE, IDENTITY_CA_FILE): the token it shows sesf for SecureShares.
   */
  readonly identity?: PlatformIdentity;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new OperatorConfigError(`${name} is required`);
  return value;
}

/** The port of a nats:// or mongodb:// URL (one host), or the protocol's default. */
export function portOf(url: string, fallback: number): number {
  const port = /^[a-z+]+:\/\/(?:[^@/]*@)?[^:/,?]+:(\d+)(?:[/?]|$)/.exec(url)?.[1];
  return port ? Number(port) : fallback;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new OperatorConfigError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw new OperatorConfigError(`${name} must be true or false, got "${text}"`);
}

function file(env: NodeJS.ProcessEnv, name: string): Uint8Array {
  const path = required(env, name);
  try {
    return readFileSync(path);
  } catch (error) {
    // The path is safe to show; the file's content never is.
    throw new OperatorConfigError(`${name}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

function postgresUrl(env: NodeJS.ProcessEnv, name: string): string {
  const value = required(env, name);
  // Never echoed: the URL carries a password.
  if (!/^postgres(ql)?:\/\/[^/]+\/[^/?]+/.test(value)) throw new OperatorConfigError(`${name} must be a postgres:// URL naming a database`);
  return value;
}

function mongodbAddress(env: NodeJS.ProcessEnv, name: string): string {
  const value = required(env, name);
  try {
    parseWireAddress(value);
  } catch (error) {
    // The reason never repeats the address, which carries a password.
    throw new OperatorConfigError(`${name}: ${(error as Error).message}`);
  }
  return value;
}

/** Reads and checks the operator's settings; a bad one fails at start, naming the setting. */
export function loadOperatorConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const zones = required(env, "MUTUALIS_ZONES")
    .split(",")
    .map((z) => z.trim())
    .filter(Boolean);
  if (zones.length === 0) throw new OperatorConfigError("MUTUALIS_ZONES must list at least one zone");
  const natsUrl = required(env, "NATS_URL");
  const mongodbUri = mongodbAddress(env, "MONGODB_URI");
  return {
    kubeconfig: env.KUBECONFIG || undefined,
    platformNamespace: env.MUTUALIS_PLATFORM_NAMESPACE || "mutualis-system",
    zones,
    natsUrl,
    natsUrlForTenants: env.NATS_URL_FOR_TENANTS || natsUrl,
    natsSystemCreds: file(env, "NATS_SYSTEM_CREDS"),
    natsOperatorSeed: file(env, "NATS_OPERATOR_SEED_FILE"),
    mongodbUri,
    databaseAdminUrl: postgresUrl(env, "DATABASE_ADMIN_URL"),
    httpPort: integer(env, "OPERATOR_HTTP_PORT", 8080, 0, 65535),
    httpHost: env.OPERATOR_HTTP_HOST || "0.0.0.0",
    leaderElection: flag(env, "OPERATOR_LEADER_ELECTION", true),
    workers: integer(env, "OPERATOR_WORKERS", 4, 1, 64),
    resyncMs: integer(env, "OPERATOR_RESYNC_SECONDS", 600, 10, 86_400) * 1000,
    // Tenants' policies open the ports the platform's NATS and database listen on: the URLs' own, unless told.
    natsPortForPolicies: integer(env, "MUTUALIS_NATS_PORT", portOf(natsUrl, 4222), 1, 65535),
    gatewayUrl: (env.GATEWAY_URL || "http://127.0.0.1:16081").replace(/\/$/, ""),
    servicesImage: env.MUTUALIS_SERVICES_IMAGE || "registry.mutualis.invalid/mutualis/services",
    natsStreamReplicas: integer(env, "MUTUALIS_NATS_STREAM_REPLICAS", 1, 1, 5),
    databasePortForPolicies: integer(env, "MUTUALIS_DATABASE_PORT", portOf(mongodbUri, 27017), 1, 65535),
    platformObjects: flag(env, "MUTUALIS_PLATFORM_OBJECTS", true),
    ...identityOf(env),
  };
}

function identityOf(env: NodeJS.ProcessEnv): { identity?: PlatformIdentity } {
  const issuer = env.IDENTITY_ISSUER;
  if (!issuer) return {};
  if (!/^https:\/\/[^/]+(\/.*[^/])?$/.test(issuer)) throw new OperatorConfigError(`IDENTITY_ISSUER must be an https URL without a trailing slash, got "${issuer}"`);
  // Without its client's secret the operator still tells dedicated deployments the issuer, but cannot serve SecureShares.
  const clientSecret = env.OPERATOR_CLIENT_SECRET_FILE ? Buffer.from(file(env, "OPERATOR_CLIENT_SECRET_FILE")).toString("utf8").trim() : undefined;
  if (clientSecret === "") throw new OperatorConfigError("OPERATOR_CLIENT_SECRET_FILE is empty");
  const ca = env.IDENTITY_CA_FILE ? Buffer.from(file(env, "IDENTITY_CA_FILE")).toString("utf8") : undefined;
  return { identity: { issuer, clientId: env.OPERATOR_CLIENT_ID || "mutualis-operator", ...(clientSecret ? { clientSecret } : {}), ...(ca ? { ca } : {}) } };
}
