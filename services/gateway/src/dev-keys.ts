import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";

/**
 * Until the identity service exists, the local platform signs tokens itself: an ES256 key pair
 * under .local/gateway, the public half published as the JWKS the gateway trusts.
 */
export async function ensureDevKeys(dir: string): Promise<{ jwksFile: string; keyFile: string }> {
  const jwksFile = join(dir, "jwks.json");
  const keyFile = join(dir, "signing-key.json");
  if (!existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = `mutualis-local-${Date.now()}`;
    writeFileSync(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: "ES256" }), { mode: 0o600 });
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] }, null, 2));
  }
  return { jwksFile, keyFile };
}

export interface TokenRequest {
  readonly user: string;
  readonly collectivity: string;
  readonly roles?: readonly string[];
  readonly groups?: readonly string[];
  readonly issuer: string;
  readonly audience: string;
  /** Lifetime such as "1h"; "-1m" makes an expired token, for tests. */
  readonly expiresIn?: string;
}

export async function mintDevToken(keyFile: string, request: TokenRequest): Promise<string> {
  const jwk = JSON.parse(readFileSync(keyFile, "utf8")) as JWK;
  const key = await importJWK(jwk, "ES256");
  return new SignJWT({ collectivity: request.collectivity, roles: [...(request.roles ?? ["agent"])], groups: [...(request.groups ?? [])] })
    .setProtectedHeader({ alg: "ES256", kid: jwk.kid })
    .setSubject(request.user)
    .setIssuer(request.issuer)
    .setAudience(request.audience)
    .setIssuedAt()
    .setExpirationTime(request.expiresIn ?? "8h")
    .sign(key);
}
