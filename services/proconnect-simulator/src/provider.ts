import { createHmac, randomBytes } from "node:crypto";
import type { Logger } from "@mutualis/service-kit";
import Provider, { errors, interactionPolicy, type Account, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from "oidc-provider";
import { ACR_VALUES, interactionPath, LIFETIMES, randomValueProblem, ROUTES, SCOPE_CLAIMS, SCOPES } from "./contract.ts";
import type { PrivateJwks } from "./keys.ts";
import { errorPage, loggedOutPage, logoutPage } from "./pages.ts";
import type { ProConnectSettings, RelyingParty, TestAgent } from "./settings.ts";

/** The claims ProConnect gives about an agent (which of them a service gets depends on its scopes). */
export function claimsOf(agent: TestAgent, accountId: string): Record<string, string> & { sub: string } {
  const optional = { organizational_unit: agent.organizational_unit, belonging_population: agent.belonging_population, phone: agent.phone, chorusdt: agent.chorusdt };
  return {
    sub: accountId,
    given_name: agent.given_name,
    usual_name: agent.usual_name,
    email: agent.email,
    uid: agent.uid,
    siret: agent.siret,
    siren: agent.siret.slice(0, 9),
    idp_id: agent.idp_id,
    ...(Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)) as Record<string, string>),
  };
}

/** An agent's `sub` for one service: the same each time for that service, unlinkable across services. */
export function pairwiseSubject(salt: string, clientId: string, accountId: string): string {
  return createHmac("sha256", salt).update(`${clientId}\0${accountId}`).digest("hex");
}

/** The simulator's identifier for an agent: ProConnect matches people by e-mail. */
export const accountIdOf = (agent: TestAgent) => agent.email.toLowerCase();

function clientMetadata(client: RelyingParty): ClientMetadata {
  return {
    client_id: client.client_id,
    client_secret: client.client_secret,
    ...(client.client_name ? { client_name: client.client_name } : {}),
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris,
    response_types: ["code"],
    grant_types: ["authorization_code"],
    token_endpoint_auth_method: "client_secret_post",
    subject_type: "pairwise",
    id_token_signed_response_alg: client.signing_alg,
    userinfo_signed_response_alg: client.signing_alg,
  };
}

/** `state` and `nonce` are checked as extra parameters so a refusal goes back to the service as an OIDC error. */
const requireRandomValue = (name: "state" | "nonce") => (_context: KoaContextWithOIDC, value: string | undefined) => {
  const problem = randomValueProblem(name, value);
  if (problem) throw new errors.InvalidRequest(problem);
};

/**
 * ProConnect has no consent screen: a service gets what it asked for. Each authorization's grant
 * is therefore made (or completed) here, with the scopes and claims requested.
 */
async function grantRequested(context: KoaContextWithOIDC) {
  const { oidc } = context;
  const { Grant } = oidc.provider;
  const existingId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(oidc.client!.clientId);
  const grant = (existingId ? await Grant.find(existingId) : undefined) ?? new Grant({ accountId: oidc.session!.accountId!, clientId: oidc.client!.clientId });
  grant.addOIDCScope([...oidc.requestParamOIDCScopes]);
  grant.addOIDCClaims([...oidc.requestParamClaims]);
  await grant.save();
  return grant;
}

export interface ProviderOptions {
  readonly settings: ProConnectSettings;
  readonly issuer: string;
  readonly jwks: PrivateJwks;
  readonly log: Logger;
}

/** ProConnect's contract as oidc-provider configuration. */
export function proconnectProvider({ settings, issuer, jwks, log }: ProviderOptions): Provider {
  const agents = new Map(settings.PROCONNECT_USERS.map((agent) => [accountIdOf(agent), agent]));
  const policy = interactionPolicy.base();
  policy.remove("consent");

  const configuration: Configuration = {
    clients: settings.PROCONNECT_CLIENTS.map(clientMetadata),
    clientAuthMethods: ["client_secret_post"],
    responseTypes: ["code"],
    allowOmittingSingleRegisteredRedirectUri: false,
    scopes: SCOPES,
    claims: { ...SCOPE_CLAIMS, acr: null, amr: null, auth_time: null, sid: null },
    acrValues: ACR_VALUES,
    subjectTypes: ["pairwise"],
    pairwiseIdentifier: (_context, accountId, client) => pairwiseSubject(settings.PROCONNECT_PAIRWISE_SALT, client.clientId, accountId),
    extraParams: { idp_hint: null, state: requireRandomValue("state"), nonce: requireRandomValue("nonce") },
    findAccount: (_context, accountId): Account | undefined => {
      const agent = agents.get(accountId);
      return agent && { accountId, claims: () => claimsOf(agent, accountId) };
    },
    loadExistingGrant: grantRequested,
    interactions: { policy, url: (_context, interaction) => interactionPath(interaction.uid) },
    features: {
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      claimsParameter: { enabled: true },
      userinfo: { enabled: true },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (context, form) => {
          context.body = logoutPage(form);
        },
        postLogoutSuccessSource: (context) => {
          context.body = loggedOutPage();
        },
      },
    },
    enabledJWA: { idTokenSigningAlgValues: ["RS256", "ES256"], userinfoSigningAlgValues: ["RS256", "ES256"] },
    routes: ROUTES,
    discovery: { service_documentation: "https://partenaires.proconnect.gouv.fr/docs/fournisseur-service", ui_locales_supported: ["fr-FR"] },
    ttl: { ...LIFETIMES },
    jwks,
    // The store lives in memory (oidc-provider's own adapter): a test double with one replica.
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    renderError: (context, out) => {
      context.type = "html";
      context.body = errorPage({ title: "La connexion a échoué", message: out.error_description ?? "La demande n'a pas pu être traitée.", code: out.error });
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.proxy = settings.PROCONNECT_TRUST_PROXY;
  provider.on("server_error", (_context, error) => log.error({ err: error }, "oidc-provider failed"));
  const refused = (event: string) => (_context: KoaContextWithOIDC, error: Error) => {
    const { error: code, error_description: description } = error as Partial<errors.OIDCProviderError>;
    log.info({ event, error: code ?? error.message, description }, "request refused");
  };
  provider.on("authorization.error", refused("authorization.error"));
  provider.on("grant.error", refused("grant.error"));
  provider.on("userinfo.error", refused("userinfo.error"));
  provider.on("end_session.error", refused("end_session.error"));
  return provider;
}
