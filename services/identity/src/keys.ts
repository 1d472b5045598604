import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { z } from "zod";
import { ConfigError } from "@mutualis/service-kit";

/** The identity's secrets, as its Secret holds them. */
const keysFile = z.object({
  jwks: z.object({ keys: z.array(z.object({ kid: z.string().min(1), kty: z.string(), d: z.string().min(1), alg: z.string().optional() }).loose()).min(1) }),
  cookieKeys: z.array(z.string().min(32)).min(1),
});
export type IdentityKeys = z.infer<typeof keysFile>;

/** Reads the keys; a missing or malformed file stops the service with its name, never its content. */
export function loadKeys(file: string): IdentityKeys {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new ConfigError(`invalid settings: IDENTITY_KEYS_FILE cannot be read as JSON (${file})`);
  }
  const parsed = keysFile.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`invalid settings: IDENTITY_KEYS_FILE must hold {"jwks": {"keys": [private keys with kid]}, "cookieKeys": [...]}`);
  return parsed.data;
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `mutualis-${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString("hex")}`, alg: "ES256", use: "sig" };
}

/**
 * A rotation: a new key signs from now on; the previous ones stay published (so tokens they
 * signed verify until they expire), up to `keep` of them. With no file yet, the first key.
 */
export async function rotateKeys(current: IdentityKeys | undefined, keep = 2): Promise<IdentityKeys> {
  const key = await newSigningKey();
  return {
    jwks: { keys: [key as IdentityKeys["jwks"]["keys"][number], ...(current?.jwks.keys ?? []).slice(0, keep)] },
    cookieKeys: current?.cookieKeys ?? [randomBytes(32).toString("base64url")],
  };
}

/** Makes the keys file if it is missing (the local platform's, the tests'); written atomically, mode 0600. */
export async function ensureKeysFile(file: string): Promise<IdentityKeys> {
  if (existsSync(file)) return loadKeys(file);
  const keys = await rotateKeys(undefined);
  writeKeysFile(file, keys);
  return keys;
}

export function writeKeysFile(file: string, keys: IdentityKeys): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(keys), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
