/**
 * ProConnect's published contract for service providers (numerique-gouv/proconnect-documentation,
 * `doc_fs/`), in one place: what the simulator offers, and the pure decisions it makes to keep it.
 */

/** Every ProConnect endpoint lives under this path; the issuer ends with it. */
export const API_PREFIX = "/api/v2";

/** Endpoint paths below {@link API_PREFIX}, as oidc-provider's `routes` option names them. */
export const ROUTES = {
  authorization: "/authorize",
  token: "/token",
  userinfo: "/userinfo",
  jwks: "/jwks",
  end_session: "/session/end",
} as const;

/** The login page of one authorization request (outside oidc-provider, below the prefix). */
export const interactionPath = (uid: string) => `${API_PREFIX}/interaction/${uid}`;

/**
 * Scopes and the claims each gives. ProConnect names a scope after its claim; `openid given_name
 * usual_name email uid siret idp_id` are the usual request, the others are given on request.
 */
export const SCOPE_CLAIMS = {
  openid: ["sub"],
  given_name: ["given_name"],
  usual_name: ["usual_name"],
  email: ["email"],
  uid: ["uid"],
  siret: ["siret"],
  siren: ["siren"],
  idp_id: ["idp_id"],
  organizational_unit: ["organizational_unit"],
  belonging_population: ["belonging_population"],
  phone: ["phone"],
  chorusdt: ["chorusdt"],
} as const satisfies Record<string, readonly string[]>;

export const SCOPES = Object.keys(SCOPE_CLAIMS);

/** The levels of assurance ProConnect may answer with; the simulated identity provider meets any. */
export const ACR_VALUES = [
  "eidas1",
  "eidas2",
  "eidas3",
  "https://proconnect.gouv.fr/assurance/self-asserted",
  "https://proconnect.gouv.fr/assurance/self-asserted-2fa",
  "https://proconnect.gouv.fr/assurance/consistency-checked",
  "https://proconnect.gouv.fr/assurance/consistency-checked-2fa",
  "https://proconnect.gouv.fr/assurance/certification-dirigeant",
] as const;

export const DEFAULT_ACR = "eidas1";

/** Lifetimes, in seconds, as ProConnect publishes them. */
export const LIFETIMES = {
  AuthorizationCode: 30,
  AccessToken: 60,
  IdToken: 60,
  Session: 12 * 60 * 60,
  Grant: 12 * 60 * 60,
  /** How long the tester has to pick an agent. */
  Interaction: 10 * 60,
} as const;

/** `state` and `nonce` must be at least this long. */
export const MINIMUM_RANDOM_LENGTH = 32;

/**
 * The parameters the authorization endpoint accepts; ProConnect answers any other with a
 * "Bad Request" page rather than ignoring it.
 */
export const AUTHORIZE_PARAMETERS: ReadonlySet<string> = new Set([
  "response_type",
  "client_id",
  "redirect_uri",
  "scope",
  "state",
  "nonce",
  "claims",
  "prompt",
  "acr_values",
  "idp_hint",
  "login_hint",
  "code_challenge",
  "code_challenge_method",
]);

/** The logout endpoint's parameters, all three required by ProConnect. */
export const LOGOUT_PARAMETERS = ["id_token_hint", "state", "post_logout_redirect_uri"] as const;

/**
 * Why an authorization request breaks the contract before any OpenID Connect check, or undefined.
 * (Length rules on `state` and `nonce` are OpenID Connect errors sent back to the client: see
 * {@link randomValueProblem}.)
 */
export function authorizeRequestProblem(parameterNames: Iterable<string>): string | undefined {
  const unknown = [...new Set(parameterNames)].filter((name) => !AUTHORIZE_PARAMETERS.has(name));
  return unknown.length > 0 ? `paramètre non accepté par ProConnect : ${unknown.join(", ")}` : undefined;
}

/** Why a logout request breaks the contract, or undefined. */
export function logoutRequestProblem(parameters: Readonly<Record<string, unknown>>): string | undefined {
  const missing = LOGOUT_PARAMETERS.filter((name) => typeof parameters[name] !== "string" || parameters[name] === "");
  return missing.length > 0 ? `paramètre obligatoire absent : ${missing.join(", ")}` : undefined;
}

/** Why a `state` or `nonce` value is refused, or undefined. */
export function randomValueProblem(name: "state" | "nonce", value: string | undefined): string | undefined {
  if (value === undefined || value === "") return `${name} is required`;
  if (value.length < MINIMUM_RANDOM_LENGTH) return `${name} must be at least ${MINIMUM_RANDOM_LENGTH} characters long`;
  return undefined;
}

const supportedAcr = (value: unknown): value is string => typeof value === "string" && (ACR_VALUES as readonly string[]).includes(value);

function acrFromClaimsParameter(claims: string | undefined): string[] {
  if (!claims) return [];
  try {
    const acr = (JSON.parse(claims) as { id_token?: { acr?: { value?: unknown; values?: unknown } } }).id_token?.acr;
    if (!acr) return [];
    return [acr.value, ...(Array.isArray(acr.values) ? acr.values : [])].filter(supportedAcr);
  } catch {
    // oidc-provider refuses a malformed claims parameter before any login.
    return [];
  }
}

/**
 * The level of assurance a sign-in is given: the first supported one the service asked for (an
 * `acr` claim request first, then `acr_values`), else eidas1. The simulated identity provider
 * claims to meet any level, so a service asking for more gets what it asked for.
 */
export function acrFor(parameters: { claims?: unknown; acr_values?: unknown }): string {
  const fromClaims = acrFromClaimsParameter(typeof parameters.claims === "string" ? parameters.claims : undefined);
  const fromValues = typeof parameters.acr_values === "string" ? parameters.acr_values.split(" ").filter(supportedAcr) : [];
  return fromClaims[0] ?? fromValues[0] ?? DEFAULT_ACR;
}

/** The authentication methods a level implies: two factors for eidas2 and above and the -2fa levels. */
export function amrFor(acr: string): string[] {
  const twoFactors = acr === "eidas2" || acr === "eidas3" || acr.endsWith("-2fa");
  return twoFactors ? ["pwd", "totp", "mfa"] : ["pwd"];
}
