import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureKeysFile, loadKeys, platformClients, rotateKeys, signInWithPassword, writeKeysFile, type ClientMetadata, type SeedAccounts } from "@mutualis/identity/client";
import { externalSecrets, localLot } from "@mutualis/cdk8s";
import { Kubectl } from "./cluster.ts";
import { secretManifest } from "./provided.ts";
import { CallerVerifier } from "@mutualis/service-kit";
import type { PlatformConfig } from "./config.ts";
import { layout } from "./layout.ts";
import { issueCertificate } from "./pki.ts";

/** Where the command-line client is sent back after signing in: a loopback address (RFC 8252). */
export const cliRedirect = "http://127.0.0.1/callback";

/** A file of random text made once, readable by its owner only: a secret the platform keeps. */
function secretFile(file: string, make: () => string): string {
  if (!existsSync(file)) writeFileSync(file, make(), { mode: 0o600 });
  return readFileSync(file, "utf8").trim();
}

/** The identity's client id at ProConnect (the local simulator registers it). */
export const proconnectClientId = "mutualis-identity";

/** The operator's client secret, the identity's at ProConnect and the demo people's password, made once under `.local/identity`. */
export function ensureLocalSecrets(dir: string): { operatorSecret: string; proconnectSecret: string; portalSecret: string; demoPassword: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    portalSecret: secretFile(join(dir, "portal-client-secret"), () => randomBytes(32).toString("base64url")),
    operatorSecret: secretFile(join(dir, "operator-client-secret"), () => randomBytes(32).toString("base64url")),
    proconnectSecret: secretFile(join(dir, "proconnect-client-secret"), () => randomBytes(32).toString("base64url")),
    // Words a person can type at the sign-in page, with enough randomness for a machine of one's own.
    demoPassword: secretFile(join(dir, "demo-password"), () => `demo-${randomBytes(9).toString("base64url")}`),
  };
}

/** The local platform's clients of the identity service: the command line, the portal and the operator. */
export function localClients(secrets: { operatorSecret: string; portalSecret: string }, portalUrl: string): ClientMetadata[] {
  return [
    {
      client_id: platformClients.portal,
      client_name: "Portail Mutualis",
      client_secret: secrets.portalSecret,
      application_type: "web",
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code", "refresh_token"],
      redirect_uris: [`${portalUrl}/retour`],
      post_logout_redirect_uris: [`${portalUrl}/`],
      first_party: true,
    },
    {
      client_id: platformClients.cli,
      client_name: "Mutualis en ligne de commande",
      application_type: "native",
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
      redirect_uris: [cliRedirect],
      post_logout_redirect_uris: [],
      first_party: true,
    },
    {
      client_id: platformClients.operator,
      client_name: "Opérateur Mutualis",
      client_secret: secrets.operatorSecret,
      application_type: "web",
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["client_credentials"],
      redirect_uris: [],
      post_logout_redirect_uris: [],
      first_party: true,
    },
  ];
}

/** The demo's people: an administrator and an agent for Rennes and for Rennes Métropole, Quimper's IT. */
export function demoPeople(password: string): SeedAccounts {
  const person = (email: string, givenName: string, usualName: string, memberships: Record<string, ("agent" | "administrateur" | "elu" | "signataire" | "secretaire")[]>) => ({
    kind: "agent" as const,
    email,
    givenName,
    usualName,
    password,
    memberships: Object.entries(memberships).map(([collectivity, roles]) => ({ collectivity, roles })),
  });
  return {
    accounts: [
      person("dsi@ville-rennes.example", "Maëlle", "Le Bihan", { rennes: ["agent", "administrateur"] }),
      person("agent@ville-rennes.example", "Yann", "Guillou", { rennes: ["agent"] }),
      // Rennes's signature circuits (fictional people): its general manager's visa, its mayor and first deputy sign.
      person("dgs@ville-rennes.example", "Gaëlle", "Quéré", { rennes: ["agent"] }),
      person("maire@ville-rennes.example", "Anne", "Kervella", { rennes: ["elu", "signataire"] }),
      person("adjoint@ville-rennes.example", "Loïc", "Le Roux", { rennes: ["elu", "signataire"] }),
      person("finances@ville-rennes.example", "Morgane", "Le Gall", { rennes: ["elu", "signataire"] }),
      person("dsi@rennes-metropole.example", "Soizic", "Le Goff", { "rennes-metropole": ["agent", "administrateur"] }),
      person("agent@rennes-metropole.example", "Erwan", "Morvan", { "rennes-metropole": ["agent"] }),
      person("informatique@quimper.example", "Gwenaël", "Tanguy", { quimper: ["agent", "administrateur"] }),
    ],
  };
}

/** What the identity service's Secrets hold on the local platform (see provided.ts). */
export async function localIdentitySecrets(config: PlatformConfig): Promise<Record<string, Record<string, string>>> {
  const paths = layout(config);
  const { operatorSecret, proconnectSecret, portalSecret, demoPassword } = ensureLocalSecrets(paths.identity);
  const keysFile = join(paths.identity, "keys.json");
  await ensureKeysFile(keysFile);
  const tls = issueCertificate(paths.pki, "identity", { commonName: "mutualis-identity" }, "serving");
  return {
    keys: { "keys.json": readFileSync(keysFile, "utf8") },
    clients: { "clients.json": JSON.stringify(localClients({ operatorSecret, portalSecret }, `http://127.0.0.1:${config.ports.portal}`)) },
    portal: { "client-secret": portalSecret },
    tls: { "tls.crt": readFileSync(tls.cert, "utf8"), "tls.key": readFileSync(tls.key, "utf8") },
    seed: { "seed.json": JSON.stringify(demoPeople(demoPassword)) },
    ca: { "ca.crt": readFileSync(join(paths.pki, "ca.crt"), "utf8") },
    proconnect: { "client-secret": proconnectSecret },
  };
}

/**
 * `make rotate-keys`: a new signing key for the local identity service, the previous ones kept to
 * verify the tokens they signed until these expire; the Secret is updated and the identity's pods
 * replaced (a rollout), which then sign with the new key. Returns the new key's id.
 */
export async function rotateIdentityKeys(config: PlatformConfig): Promise<string> {
  const paths = layout(config);
  const file = join(paths.identity, "keys.json");
  const keys = await rotateKeys(existsSync(file) ? loadKeys(file) : undefined);
  writeKeysFile(file, keys);
  const kubectl = new Kubectl(paths.bin("kubectl"), paths.kubeconfig);
  const namespace = localLot.platformNamespace;
  await kubectl.apply([secretManifest(namespace, externalSecrets.identityKeys, { "keys.json": readFileSync(file, "utf8") })]);
  await kubectl.run(["rollout", "restart", "deployment/identity", "-n", namespace]);
  await kubectl.run(["rollout", "status", "deployment/identity", "-n", namespace, "--timeout=180s"]);
  return keys.jwks.keys[0]!.kid;
}

/** An access token for one of the demo's people, through the identity service's whole sign-in. */
export async function demoToken(config: PlatformConfig, email: string): Promise<string> {
  const paths = layout(config);
  const issuer = `https://127.0.0.1:${config.ports.identity}`;
  const { demoPassword } = ensureLocalSecrets(paths.identity);
  const trusted = new CallerVerifier({ issuer, audience: "mutualis-api", caFile: join(paths.pki, "ca.crt") }).fetch;
  const signedIn = await signInWithPassword({ issuer, clientId: platformClients.cli, redirectUri: cliRedirect, email, password: demoPassword, fetch: trusted });
  return signedIn.accessToken;
}
