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
  /** Password hashes computed at once; more wait their turn (scrypt holds 32 MiB each). */
  IDENTITY_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
});

export type IdentitySettings = z.infer<typeof identitySettings>;
