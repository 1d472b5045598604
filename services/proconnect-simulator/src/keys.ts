import { generateKeyPair } from "node:crypto";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { calculateJwkThumbprint, type JWK } from "jose";
import { z } from "zod";

export interface PrivateJwks {
  keys: JWK[];
}

const privateJwks = z.object({
  keys: z
    .array(z.looseObject({ kty: z.enum(["RSA", "EC"]), d: z.string().min(1, "must be a private key") }))
    .min(1),
});

const generate = promisify(generateKeyPair);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function signingKey(alg: "RS256" | "ES256"): Promise<JWK> {
  const { privateKey } = alg === "RS256" ? await generate("rsa", { modulusLength: 2048 }) : await generate("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" }) as JWK;
  return { ...jwk, alg, use: "sig", kid: await calculateJwkThumbprint(jwk) };
}

/**
 * The keys id_tokens and user info are signed with: read from a private JWKS file when given,
 * else made now (one RSA and one P-256 key, so each service may have RS256 or ES256). Made keys
 * live as long as the process, as the simulator's sessions do.
 */
export async function signingKeys(jwksFile?: string): Promise<PrivateJwks> {
  if (jwksFile === undefined) return { keys: await Promise.all([signingKey("RS256"), signingKey("ES256")]) };
  const content = parseJson(await readFile(jwksFile, "utf8"));
  // JSON.parse's message quotes the text around a syntax error: none of a key file may reach a log.
  if (content === undefined) throw new Error("PROCONNECT_JWKS_FILE: not JSON");
  const parsed = privateJwks.safeParse(content);
  if (!parsed.success) throw new Error(`PROCONNECT_JWKS_FILE: not a private JWKS (${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")})`);
  return parsed.data as PrivateJwks;
}
