import { baseSettings } from "@mutualis/service-kit";
import { z } from "zod";

export const identitySettings = baseSettings.extend({
  /** The issuer: https, no trailing slash, byte for byte what tokens and the API server name. */
  IDENTITY_PUBLIC_ISSUER: z.url().refine((url) => !url.endsWith("/"), "must not end with a slash"),
  /**
   * The identity's secrets, JSON (a mounted Secret): `{"jwks": {"keys": [private JWKs]}, "cookieKeys": [...]}`.
   * The first key signs; the others still verify tokens issued before a rotation.
   */
  IDENTITY_KEYS_FILE: z.string().min(1),
  /** The relying parties, JSON (a mounted Secret: it holds their secrets). */
  IDENTITY_CLIENTS_FILE: z.string().min(1),
  /** Accounts to make at start if they do not exist (the demo's and the tests'), JSON. */
  IDENTITY_SEED_FILE: z.string().optional(),
  IDENTITY_ACCESS_TOKEN_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
  IDENTITY_SESSION_SECONDS: z.coerce.number().int().min(300).default(12 * 3600),
  /** Failed sign-ins in a row before an address is locked out for IDENTITY_LOCKOUT_SECONDS. */
  IDENTITY_LOCKOUT_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  IDENTITY_LOCKOUT_SECONDS: z.coerce.number().int().min(1).default(15 * 60),
  /** Sign-in attempts per minute from one address of origin, in one replica (a benchmark from one machine raises it). */
  IDENTITY_ATTEMPTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(30),
  /** Password hashes computed at once; more wait their turn (scrypt holds 32 MiB each). */
  IDENTITY_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
  /**
   * Where sessions, interactions, codes, grants and tokens are kept: the database (every replica
   * shares them), or this process's memory (one replica only: lost at restart; the benchmark's floor).
   */
  IDENTITY_STORE: z.enum(["database", "memory"]).default("database"),
  /**
   * ProConnect, the State's federation for public agents, whose service provider the identity is:
   * its issuer (`…/api/v2`), the platform's client there and its secret (a mounted file). Unset: no
   * "S’identifier avec ProConnect" on the sign-in page.
   */
  IDENTITY_PROCONNECT_ISSUER: z.url().optional(),
  IDENTITY_PROCONNECT_CLIENT_ID: z.string().min(1).optional(),
  IDENTITY_PROCONNECT_CLIENT_SECRET_FILE: z.string().min(1).optional(),
  /** The CA of ProConnect's certificate when it is not a public one (the simulator, locally). */
  IDENTITY_PROCONNECT_CA_FILE: z.string().optional(),
  IDENTITY_PROCONNECT_SIGNING_ALG: z.enum(["RS256", "ES256"]).default("RS256"),
}).refine((s) => !s.IDENTITY_PROCONNECT_ISSUER || (s.IDENTITY_PROCONNECT_CLIENT_ID && s.IDENTITY_PROCONNECT_CLIENT_SECRET_FILE), {
  message: "IDENTITY_PROCONNECT_ISSUER needs IDENTITY_PROCONNECT_CLIENT_ID and IDENTITY_PROCONNECT_CLIENT_SECRET_FILE",
  path: ["IDENTITY_PROCONNECT_ISSUER"],
});

export type IdentitySettings = z.infer<typeof identitySettings>;
