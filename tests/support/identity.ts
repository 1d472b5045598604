import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientCredentials, ensureKeysFile, identityService, identitySettings, signInWithPassword, type ClientMetadata, type SeedAccounts } from "@mutualis/identity";
import { issueCertificate, layout } from "@mutualis/local-platform";
import { importJWK, SignJWT, type JWK } from "jose";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { AccountRepository, PasswordHasher } from "@mutualis/identity";
import { authorizationHeader, CallerVerifier, Database, loadSettings, RunningService, type Role } from "@mutualis/service-kit";
import { credsFor, freePort, serviceSettings, type ServiceCreds } from "./services.ts";
import { testPlatform } from "./platform.ts";

const platform = testPlatform();

/** Every seeded test account's password. */
export const testPassword = "mot-de-passe-de-test-2026";
export const operatorSecret = "operator-client-secret-for-the-tests-0123456789";
export const cliRedirect = "http://127.0.0.1/callback";

export interface TestIdentity {
  readonly service: RunningService;
  readonly issuer: string;
  readonly caFile: string;
  readonly keysFile: string;
  /** Settings a service needs to verify this identity's tokens. */
  readonly verifierSettings: Record<string, string>;
  /** A fetch that trusts the test platform's CA. */
  readonly fetch: typeof fetch;
  /** An access token for a seeded person, through the whole sign-in. */
  token(email: string, password?: string): Promise<string>;
  /**
   * An access token for a person with exactly these roles (made or updated in the identity's
   * database first, as an administrator would), through the whole sign-in; kept for reuse.
   */
  tokenFor(email: string, memberships: Record<string, readonly Role[]>): Promise<string>;
  /** The operator's client-credentials token. */
  operatorToken(): Promise<string>;
  /** Starts it again on the same address (after its keys file changed, say). */
  restart(): Promise<TestIdentity>;
  stop(): Promise<void>;
}

export const testClients: ClientMetadata[] = [
  { client_id: "mutualis-cli", application_type: "native", token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"], redirect_uris: [cliRedirect], post_logout_redirect_uris: [], first_party: true },
  { client_id: "mutualis-operator", client_secret: operatorSecret, application_type: "web", token_endpoint_auth_method: "client_secret_basic", grant_types: ["client_credentials"], redirect_uris: [], post_logout_redirect_uris: [], first_party: true },
];

/**
 * The identity service in this process, over TLS with a certificate of the test platform's CA,
 * on the test platform's database, with the given people (password `testPassword`).
 */
export async function startTestIdentity(
  creds: ServiceCreds,
  database: string,
  people: SeedAccounts["accounts"],
  extra: Record<string, string> = {},
  reserved?: ReservedIdentity,
  /** Relying parties beside the command line and the operator (the portal). */
  moreClients: readonly ClientMetadata[] = [],
): Promise<TestIdentity> {
  const dir = mkdtempSync(join(tmpdir(), "identity-"));
  const pki = layout(platform.config).pki;
  const tls = issueCertificate(pki, "identity", { commonName: "mutualis-identity" }, "serving");
  const keysFile = join(dir, "keys.json");
  await ensureKeysFile(keysFile);
  writeFileSync(join(dir, "clients.json"), JSON.stringify([...testClients, ...moreClients]));
  writeFileSync(join(dir, "seed.json"), JSON.stringify({ accounts: people.map((p) => ({ password: testPassword, ...p })) }));
  const { port, issuer } = reserved ?? (await reserveTestIdentity());
  const caFile = join(pki, "ca.crt");
  const store = await Database.connect(platform.env.MONGODB_URI, database, "identity-tests");
  const accounts = new AccountRepository(store);
  const hasher = new PasswordHasher(2);
  const passwordHash = await hasher.hash(testPassword);
  const issued = new Map<string, string>();
  const start = async (): Promise<TestIdentity> => {
    const service = await new RunningService(
      identityService(),
      loadSettings(identitySettings, {
        ...serviceSettings(await credsFor(creds, "identity")),
        SERVICE_NAME: "identity",
        MONGODB_DATABASE: database,
        HTTP_PORT: String(port),
        HTTP_INTERNAL_PORT: "0",
        HTTP_TLS_CERT_FILE: tls.cert,
        HTTP_TLS_KEY_FILE: tls.key,
        IDENTITY_PUBLIC_ISSUER: issuer,
        // Its own members' endpoints verify their callers as every service does.
        IDENTITY_ISSUER: issuer,
        IDENTITY_CA_FILE: caFile,
        IDENTITY_KEYS_FILE: keysFile,
        IDENTITY_CLIENTS_FILE: join(dir, "clients.json"),
        IDENTITY_SEED_FILE: join(dir, "seed.json"),
        ...extra,
      }),
    ).start();
    const verifierSettings = { IDENTITY_ISSUER: issuer, IDENTITY_CA_FILE: caFile };
    const trusted = new CallerVerifier({ issuer, audience: "mutualis-api", caFile }).fetch;
    const identity: TestIdentity = {
      service,
      issuer,
      caFile,
      keysFile,
      verifierSettings,
      fetch: trusted,
      token: async (email, password = testPassword) => (await signInWithPassword({ issuer, clientId: "mutualis-cli", redirectUri: cliRedirect, email, password, fetch: trusted })).accessToken,
      tokenFor: async (email, memberships) => {
        const key = `${email} ${JSON.stringify(memberships)}`;
        const known = issued.get(key);
        if (known) return known;
        const account = (await accounts.findByEmail(email)) ?? (await accounts.create({ kind: "agent", email, givenName: "Test", usualName: email.split("@")[0]!, passwordHash, emailVerified: true }));
        for (const membership of account.memberships) if (!(membership.collectivity in memberships)) await accounts.removeMembership(account._id, membership.collectivity);
        for (const [collectivity, roles] of Object.entries(memberships)) await accounts.setMembership(account._id, collectivity, [...roles]);
        const token = await identity.token(email);
        issued.set(key, token);
        return token;
      },
      operatorToken: async () => (await clientCredentials({ issuer, clientId: "mutualis-operator", clientSecret: operatorSecret, fetch: trusted })).accessToken,
      restart: async () => {
        await service.stop();
        return start();
      },
      stop: async () => {
        await service.stop();
        await store.close();
      },
    };
    return identity;
  };
  return start();
}

/** Where a test identity will listen, known before it starts: the operator is told first. */
export interface ReservedIdentity {
  readonly port: number;
  readonly issuer: string;
  /** The operator's settings for it: the issuer, its CA, and the operator's client secret. */
  readonly operatorEnv: Record<string, string>;
}

/**
 * A free port, or `port`: the test platform's identity port (`config.ports.identity`), whose issuer
 * the API server trusts, for tests that reach Kubernetes with the identity's tokens.
 */
export async function reserveTestIdentity(fixedPort?: number): Promise<ReservedIdentity> {
  const port = fixedPort ?? (await freePort());
  const issuer = `https://127.0.0.1:${port}`;
  const secretFile = join(mkdtempSync(join(tmpdir(), "operator-client-")), "secret");
  writeFileSync(secretFile, operatorSecret, { mode: 0o600 });
  return { port, issuer, operatorEnv: { IDENTITY_ISSUER: issuer, IDENTITY_CA_FILE: join(layout(platform.config).pki, "ca.crt"), OPERATOR_CLIENT_SECRET_FILE: secretFile } };
}

/** A person of the tests: an agent with roles in collectivities. */
export function agent(email: string, memberships: Record<string, string[]>): SeedAccounts["accounts"][number] {
  const [given, usual] = email.split("@")[0]!.split(".");
  return {
    kind: "agent",
    email,
    givenName: given ?? "Agent",
    usualName: usual ?? "Test",
    memberships: Object.entries(memberships).map(([collectivity, roles]) => ({ collectivity, roles: roles as never })),
  };
}

/** NATS headers carrying a caller's token, as the gateway sends them. */
export function bearer(token: string): { headers: MsgHdrs } {
  const headers = natsHeaders();
  headers.set(authorizationHeader, `Bearer ${token}`);
  return { headers };
}

/**
 * A token signed with one of the identity's own keys (read from its keys file) but made by the
 * test: to show what the platform refuses even when the signature is good.
 */
export async function craftToken(keysFile: string, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const { jwks } = JSON.parse(readFileSync(keysFile, "utf8")) as { jwks: { keys: (JWK & { kid: string })[] } };
  const jwk = jwks.keys[0]!;
  return new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: jwk.kid, typ: "at+jwt", ...header }).sign(await importJWK(jwk, "ES256"));
}
