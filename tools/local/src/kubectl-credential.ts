import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { platformClients, refresh, type SignInResult } from "@mutualis/identity/client";
import { CallerVerifier } from "@mutualis/service-kit";
import { stringify } from "yaml";
import type { PlatformConfig } from "./config.ts";
import { layout } from "./layout.ts";

/** What kubectl's credential plugin is told: where the issuer is, its CA, where tokens are kept. */
export interface CredentialOptions {
  readonly issuer: string;
  readonly caFile: string;
  readonly cacheFile: string;
  /** Where the person is told to go: kubectl shows the plugin's standard error. */
  readonly tell: (line: string) => void;
}

interface Cached {
  readonly issuer: string;
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly expiresAt: number;
}

function save(file: string, value: Cached): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(value), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

const cached = (issuer: string, result: SignInResult, previous?: string): Cached => ({
  issuer,
  accessToken: result.accessToken,
  ...(result.refreshToken ?? previous ? { refreshToken: result.refreshToken ?? previous } : {}),
  expiresAt: Date.now() + result.expiresIn * 1000,
});

/**
 * The device authorization grant (RFC 8628) for the command-line client: the person opens the
 * page shown, checks the code and signs in there (by password or ProConnect); meanwhile this polls
 * the token endpoint at the pace the identity asks.
 */
async function deviceSignIn(options: CredentialOptions, request: typeof fetch): Promise<SignInResult> {
  const form = (fields: Record<string, string>) => ({ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() });
  const started = await request(`${options.issuer}/device/auth`, form({ client_id: platformClients.cli, scope: "openid email profile api offline_access" }));
  const device = (await started.json()) as { device_code?: string; user_code?: string; verification_uri?: string; verification_uri_complete?: string; expires_in?: number; interval?: number; error_description?: string };
  if (!started.ok || !device.device_code) throw new Error(`the identity service refused the device sign-in: ${device.error_description ?? started.status}`);
  options.tell(`Pour vous connecter, ouvrez ${device.verification_uri_complete ?? device.verification_uri} et vérifiez le code ${device.user_code}.`);
  let interval = (device.interval ?? 5) * 1000;
  const deadline = Date.now() + (device.expires_in ?? 600) * 1000;
  while (Date.now() < deadline) {
    await new Promise((resolvePromise) => setTimeout(resolvePromise, interval));
    const answer = await request(`${options.issuer}/token`, form({ grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: device.device_code, client_id: platformClients.cli }));
    const body = (await answer.json()) as { access_token?: string; refresh_token?: string; expires_in?: number; error?: string; error_description?: string };
    if (answer.ok && body.access_token) return { accessToken: body.access_token, ...(body.refresh_token ? { refreshToken: body.refresh_token } : {}), expiresIn: body.expires_in ?? 0 };
    if (body.error === "slow_down") interval += 5000;
    else if (body.error !== "authorization_pending") throw new Error(`the device sign-in ended: ${body.error_description ?? body.error ?? answer.status}`);
  }
  throw new Error("the device sign-in expired before it was approved");
}

/**
 * kubectl's exec credential (client.authentication.k8s.io/v1) for a person of the platform: the
 * token kept from an earlier sign-in while it is valid, a refreshed one, or a new device sign-in.
 * Tokens are kept in a file only its owner reads; nothing is logged.
 */
export async function kubectlCredential(options: CredentialOptions): Promise<Record<string, unknown>> {
  const request = new CallerVerifier({ issuer: options.issuer, audience: "mutualis-api", caFile: options.caFile }).fetch;
  let kept: Cached | undefined;
  if (existsSync(options.cacheFile)) {
    try {
      kept = JSON.parse(readFileSync(options.cacheFile, "utf8")) as Cached;
    } catch {
      kept = undefined;
    }
    if (kept?.issuer !== options.issuer) kept = undefined;
  }
  if (!kept || kept.expiresAt - 60_000 <= Date.now()) {
    let renewed: Cached | undefined;
    if (kept?.refreshToken) {
      renewed = await refresh({ issuer: options.issuer, clientId: platformClients.cli, refreshToken: kept.refreshToken, fetch: request }).then(
        (result) => cached(options.issuer, result, kept!.refreshToken),
        () => undefined,
      );
    }
    kept = renewed ?? cached(options.issuer, await deviceSignIn(options, request));
    save(options.cacheFile, kept);
  }
  return {
    apiVersion: "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    status: { token: kept.accessToken, expirationTimestamp: new Date(kept.expiresAt).toISOString() },
  };
}

/**
 * `make kubeconfig`: a kubeconfig for the platform's people. kubectl asks the credential plugin
 * above for a token (device sign-in at the identity service), and the API server knows the person
 * as oidc:<their address>, their roles as groups oidc:mutualis:<collectivity>:<role>.
 */
export function writeOidcKubeconfig(config: PlatformConfig, file = join(config.dir, "kubeconfig-oidc")): string {
  const paths = layout(config);
  const issuer = `https://127.0.0.1:${config.ports.identity}`;
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "mutualis-local", cluster: { server: `https://127.0.0.1:${config.ports.apiServer}`, "certificate-authority": join(paths.pki, "ca.crt") } }],
    users: [
      {
        name: "mutualis-identity",
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1",
            command: process.execPath,
            args: [
              "--import",
              import.meta.resolve("tsx"),
              join(config.root, "tools/local/src/cli.ts"),
              "credential",
              issuer,
              join(paths.pki, "ca.crt"),
              join(paths.identity, "kubectl-token.json"),
            ],
            interactiveMode: "IfAvailable",
            provideClusterInfo: false,
          },
        },
      },
    ],
    contexts: [{ name: "mutualis-local", context: { cluster: "mutualis-local", user: "mutualis-identity" } }],
    "current-context": "mutualis-local",
  };
  writeFileSync(file, stringify(kubeconfig), { mode: 0o600 });
  return file;
}
