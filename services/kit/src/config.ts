import { z } from "zod";
import { ConfigError } from "./errors.ts";

/** Settings every service has; a service extends this schema with its own. */
export const baseSettings = z.object({
  /**
   * Set on a deployment dedicated to one collectivity (tenancy: dedicated): it serves only
   * `tenant.<TENANT>.…`, with the collectivity's own NATS creds and database.
   */
  TENANT: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a collectivity name").optional(),
  TENANT_SIREN: z.string().regex(/^[0-9]{9}$/, "must be 9 digits").optional(),
  TENANT_DISPLAY_NAME: z.string().min(1).optional(),
  /** The Collectivity's `spec.actes` (its authority as the State knows it), as JSON. */
  TENANT_AUTHORITY: z.string().optional(),
  /** The ServiceInstance's `spec.settings`, as JSON, checked by the service at start. */
  TENANT_SETTINGS: z.string().optional(),
  SERVICE_NAME: z.string().min(1),
  SERVICE_VERSION: z.string().default("0.1.0"),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HTTP_HOST: z.string().default("0.0.0.0"),
  HTTP_BODY_LIMIT: z.string().default("1mb"),
  /** Health, readiness and /metrics: a port of their own, on HTTP_HOST, that no Service or ingress exposes. */
  HTTP_INTERNAL_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /**
   * The proxies whose X-Forwarded-For is believed (comma-separated addresses, CIDR ranges, or
   * Express's names: loopback, linklocal, uniquelocal): the ingress in front of the service.
   * Empty (the default): the client's address is the connection's, whatever a header says.
   */
  TRUSTED_PROXIES: z
    .string()
    .default("")
    .transform((list) => list.split(",").map((entry) => entry.trim()).filter(Boolean)),
  /** A certificate and key (PEM files) to listen with TLS: the identity service's issuer must be https. */
  HTTP_TLS_CERT_FILE: z.string().optional(),
  HTTP_TLS_KEY_FILE: z.string().optional(),
  /** The platform's OpenID Connect issuer, whose access tokens say who calls (the identity service). */
  IDENTITY_ISSUER: z.url().optional(),
  /** The audience of the platform's access tokens. */
  IDENTITY_AUDIENCE: z.string().min(1).default("mutualis-api"),
  /** The CA that signed the issuer's certificate (PEM), when it is the platform's own. */
  IDENTITY_CA_FILE: z.string().optional(),
  /** The same CA as PEM text, where no file is mounted (a dedicated deployment's environment). */
  IDENTITY_CA: z.string().optional(),
  NATS_URL: z.string().regex(/^(nats|tls|wss?):\/\//, "must be a nats://, tls:// or ws(s):// URL"),
  /** A creds file (tenant or platform user). */
  NATS_CREDS_FILE: z.string().optional(),
  /** Copies of each JetStream stream a service makes (its flows, the business events): 3 on a 3-node cluster. */
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, "must be a mongodb:// URI"),
  MONGODB_DATABASE: z.string().min(1).optional(),
  /** The CA of the database's TLS certificate as PEM text, where it is a private one (the role's Secret has it). */
  MONGODB_CA: z.string().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /**
   * The relay e-mail is sent through (`smtp://host:port`, `smtps://user:password@host:port`).
   * Without it a service sends nothing and logs a warning (see Mailer).
   */
  SMTP_URL: z.string().regex(/^smtps?:\/\//, "must be an smtp:// or smtps:// URL").optional(),
  /** The sender of every e-mail the service sends. */
  MAIL_FROM: z.string().min(1).default("Mutualis <no-reply@mutualis.example>"),
});

export type BaseSettings = z.infer<typeof baseSettings>;

/**
 * Reads settings from the environment with one schema: a bad or missing setting fails at start
 * with the setting's name (and never its value, which may be a secret).
 */
export function loadSettings<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join(".") || "(settings)";
    return issue.code === "invalid_type" && (issue as { input?: unknown }).input === undefined ? `${name} is required` : `${name}: ${issue.message}`;
  });
  throw new ConfigError(`invalid settings: ${problems.join("; ")}`);
}
