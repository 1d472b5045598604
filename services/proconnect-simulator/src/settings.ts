import { baseSettings } from "@mutualis/service-kit";
import { z } from "zod";

/** The `idp_id` of the simulated identity provider, which stands in for the ones ProConnect federates. */
export const SIMULATED_IDP_ID = "5f3c1b6e-8d2a-4c7e-9b1f-2a6d4e8c0b13";

/** A test agent the tester may sign in as: ProConnect's claims for this person. */
export const testAgent = z.object({
  /** ProConnect matches people by e-mail: it is also the agent's identifier inside the simulator. */
  email: z.email(),
  given_name: z.string().min(1),
  usual_name: z.string().min(1),
  /** The agent's identifier at their identity provider. */
  uid: z.string().min(1),
  /** The establishment the agent works for; `siren` is its first nine digits. */
  siret: z.string().regex(/^[0-9]{14}$/, "must be 14 digits"),
  idp_id: z.string().min(1).default(SIMULATED_IDP_ID),
  organizational_unit: z.string().min(1).optional(),
  belonging_population: z.string().min(1).optional(),
  phone: z.string().min(1).optional(),
  chorusdt: z.string().min(1).optional(),
  /** Shown on the login page only (not a claim), to tell agents apart. */
  organization: z.string().min(1).optional(),
});

export type TestAgent = z.infer<typeof testAgent>;

const SIGNING_ALGORITHMS = ["RS256", "ES256"] as const;

/** A service provider (relying party) registered with the simulator, as ProConnect registers them. */
export const relyingParty = z
  .object({
    client_id: z.string().min(1),
    client_secret: z.string().min(1),
    /** Shown on the login page. */
    client_name: z.string().min(1).optional(),
    redirect_uris: z.array(z.url()).min(1),
    post_logout_redirect_uris: z.array(z.url()).default([]),
    /** How its id_token and user info are signed. */
    signing_alg: z.enum(SIGNING_ALGORITHMS).default("RS256"),
  })
  // oidc-provider derives a pairwise subject's sector from the redirect host; several hosts would need a sector_identifier_uri.
  .refine((client) => new Set(client.redirect_uris.map((uri) => new URL(uri).host)).size === 1, {
    message: "redirect_uris must all be on one host (each service gets its own pairwise sub)",
    path: ["redirect_uris"],
  });

export type RelyingParty = z.infer<typeof relyingParty>;

/** Agents of real Breton collectivities (invented people), for the demo and the tests. */
export const defaultAgents: readonly TestAgent[] = [
  {
    email: "camille.le-goff@ville-rennes.fr",
    given_name: "Camille",
    usual_name: "Le Goff",
    uid: "ville-rennes-0001",
    siret: "21350238800019",
    idp_id: SIMULATED_IDP_ID,
    organizational_unit: "Direction des assemblées",
    organization: "Ville de Rennes",
  },
  {
    email: "yann.morvan@ville-rennes.fr",
    given_name: "Yann",
    usual_name: "Morvan",
    uid: "ville-rennes-0002",
    siret: "21350238800019",
    idp_id: SIMULATED_IDP_ID,
    organizational_unit: "Service de l'état civil",
    organization: "Ville de Rennes",
  },
  {
    email: "gwenaelle.tanguy@rennesmetropole.fr",
    given_name: "Gwenaëlle",
    usual_name: "Tanguy",
    uid: "rennes-metropole-0001",
    siret: "24350013900189",
    idp_id: SIMULATED_IDP_ID,
    organizational_unit: "Direction du numérique",
    organization: "Rennes Métropole",
  },
];

/** A setting holding JSON, checked by `schema`; a parse error names the setting, never its value. */
function jsonSetting<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, context): unknown => {
      try {
        return JSON.parse(text);
      } catch {
        context.issues.push({ code: "custom", message: "must be JSON", input: text });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

const unique =
  <T>(key: (item: T) => string, what: string) =>
  (items: readonly T[], context: z.RefinementCtx) => {
    const seen = new Set<string>();
    for (const item of items) {
      if (seen.has(key(item))) context.addIssue({ code: "custom", message: `${what} ${key(item)} appears twice` });
      seen.add(key(item));
    }
  };

/** Everything the simulator needs; it has no NATS or database, so only the kit's HTTP and log settings are shared. */
export const proconnectSettings = baseSettings.pick({ SERVICE_VERSION: true, HTTP_PORT: true, HTTP_HOST: true, LOG_LEVEL: true }).extend({
  SERVICE_NAME: z.string().min(1).default("proconnect-simulator"),
  /**
   * Where browsers and services reach the simulator (an origin, e.g. https://proconnect.mutualis.localhost);
   * the issuer is this plus /api/v2. Without it, the address it listens on.
   */
  PROCONNECT_PUBLIC_URL: z
    .url()
    .refine((url) => ["/", ""].includes(new URL(url).pathname) && !new URL(url).search, "must be an origin, without a path")
    .transform((url) => new URL(url).origin)
    .optional(),
  /** The registered services: JSON list of {client_id, client_secret, redirect_uris, post_logout_redirect_uris, signing_alg?}. */
  PROCONNECT_CLIENTS: jsonSetting(z.array(relyingParty).min(1).superRefine(unique((client: RelyingParty) => client.client_id, "client_id"))),
  /** The test agents offered on the login page: JSON list of {email, given_name, usual_name, uid, siret, idp_id?, …}. */
  PROCONNECT_USERS: jsonSetting(z.array(testAgent).min(1).superRefine(unique((agent: TestAgent) => agent.email.toLowerCase(), "email")))
    .default([...defaultAgents]),
  /** A private JWKS (JSON {keys: [...]}) to sign with; without it, keys are made at each start. */
  PROCONNECT_JWKS_FILE: z.string().min(1).optional(),
  /** A PEM certificate (chain) and its key: given both, the simulator listens with TLS. */
  PROCONNECT_TLS_CERT_FILE: z.string().min(1).optional(),
  PROCONNECT_TLS_KEY_FILE: z.string().min(1).optional(),
  /** Behind a TLS-terminating proxy: believe its X-Forwarded-Proto and -Host (cookies then get Secure). */
  PROCONNECT_TRUST_PROXY: z.stringbool().default(false),
  /** Mixed into each pairwise `sub`; the default keeps subjects stable across restarts. */
  PROCONNECT_PAIRWISE_SALT: z.string().min(16).default("mutualis-proconnect-simulator"),
}).refine((settings) => (settings.PROCONNECT_TLS_CERT_FILE === undefined) === (settings.PROCONNECT_TLS_KEY_FILE === undefined), {
  message: "PROCONNECT_TLS_CERT_FILE and PROCONNECT_TLS_KEY_FILE go together",
  path: ["PROCONNECT_TLS_KEY_FILE"],
});

export type ProConnectSettings = z.infer<typeof proconnectSettings>;
