import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "@mutualis/service-kit";

/** A relying party of the platform, as the clients file (a Secret) declares it. */
const client = z
  .object({
    client_id: z.string().regex(/^[a-z0-9][-a-z0-9]*$/),
    client_secret: z.string().min(32).optional(),
    client_name: z.string().optional(),
    redirect_uris: z.array(z.url()).default([]),
    post_logout_redirect_uris: z.array(z.url()).default([]),
    grant_types: z.array(z.enum(["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"])).min(1),
    response_types: z.array(z.literal("code")).optional(),
    token_endpoint_auth_method: z.enum(["client_secret_basic", "client_secret_post", "none"]).default("client_secret_basic"),
    /** `native` for command-line clients, whose redirect is a loopback address on any port. */
    application_type: z.enum(["web", "native"]).default("web"),
    /** The platform's own software (the portal, kubectl's plugin): people are not asked to consent. */
    first_party: z.boolean().default(false),
  })
  .refine((c) => c.token_endpoint_auth_method === "none" || c.client_secret, { message: "a confidential client needs a client_secret" });

export type ClientMetadata = z.infer<typeof client>;

export function loadClients(file: string): ClientMetadata[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new ConfigError(`invalid settings: IDENTITY_CLIENTS_FILE cannot be read as JSON (${file})`);
  }
  const parsed = z.array(client).min(1).safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid settings: IDENTITY_CLIENTS_FILE: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data.map((c) => ({ ...c, response_types: c.grant_types.includes("authorization_code") ? ["code"] : [] }));
}

/** The client ids the platform's own parts use. */
export const platformClients = {
  portal: "mutualis-portal",
  cli: "mutualis-cli",
  kubectl: "mutualis-kubectl",
  operator: "mutualis-operator",
} as const;
