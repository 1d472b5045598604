import Provider, { errors, interactionPolicy, type Account as OidcAccount, type Adapter, type Configuration, type KoaContextWithOIDC } from "oidc-provider";
import type { ClientMetadata } from "./clients.ts";
import { membershipsClaim, type Account, type AccountRepository } from "./accounts.ts";
import type { IdentityKeys } from "./keys.ts";
import { errorPage, escapeHtml, page, pageAround } from "./pages.ts";
import type { IdentitySettings } from "./settings.ts";

/** The resource indicator of the platform's API (the gateway and the services behind it). */
export const apiResource = "urn:mutualis:api";

/** What a token says of a person, whatever it is for. */
export function personClaims(account: Account) {
  const memberships = membershipsClaim(account);
  return {
    email: account.email,
    email_verified: account.emailVerified,
    memberships,
    ...(account.company ? { company: account.company } : {}),
    // For the Kubernetes API server, which prefixes them: a role in a collectivity, never a `system:` name.
    groups: Object.entries(memberships).flatMap(([collectivity, roles]) => roles.map((role) => `mutualis:${collectivity}:${role}`)),
  };
}

const oidcScopes = "openid email profile mutualis offline_access api";

interface ProviderDependencies {
  readonly settings: IdentitySettings;
  readonly keys: IdentityKeys;
  readonly clients: readonly ClientMetadata[];
  readonly accounts: AccountRepository;
  /** Where oidc-provider keeps its models; without one, its own memory (IDENTITY_STORE=memory). */
  readonly adapter?: new (name: string) => Adapter;
}

const frenchErrors: Record<string, string> = {
  invalid_request: "La demande de connexion est incomplète ou mal formée.",
  invalid_client: "L’application qui vous a envoyé ici n’est pas reconnue par la plateforme.",
  invalid_redirect_uri: "L’adresse de retour demandée n’est pas enregistrée pour cette application.",
  access_denied: "L’accès a été refusé.",
  login_required: "Vous devez vous connecter.",
  session_not_found: "Votre session a expiré : recommencez la connexion depuis l’application.",
};

/**
 * oidc-provider asks native applications for consent at every sign-in; the platform's own
 * command-line client has its grant already (third-party ones still get the consent page, as
 * they have no grant).
 */
function consentPolicy() {
  const policy = interactionPolicy.base();
  policy.get("consent")!.checks.remove("native_client_prompt");
  return policy;
}

export function createProvider({ settings, keys, clients, accounts, adapter }: ProviderDependencies): Provider {
  const firstParty = new Set(clients.filter((c) => c.first_party).map((c) => c.client_id));
  const configuration: Configuration = {
    adapter,
    clients: clients.map(({ first_party: _firstParty, ...client }) => client),
    // The platform signs with ES256 keys only.
    clientDefaults: { grant_types: ["authorization_code"], response_types: ["code"], id_token_signed_response_alg: "ES256", token_endpoint_auth_method: "client_secret_basic" },
    jwks: keys.jwks as Configuration["jwks"],
    cookies: { keys: keys.cookieKeys, long: { signed: true, httpOnly: true, sameSite: "lax" }, short: { signed: true, httpOnly: true, sameSite: "lax" } },
    scopes: ["openid", "offline_access", "email", "profile", "mutualis", "api"],
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["given_name", "family_name", "name"],
      mutualis: ["memberships", "company", "groups"],
    },
    conformIdTokenClaims: false,
    async findAccount(_ctx, id): Promise<OidcAccount | undefined> {
      const account = await accounts.findById(id);
      if (!account?.active) return undefined;
      return {
        accountId: account._id,
        async claims() {
          return { sub: account._id, given_name: account.givenName, family_name: account.usualName, name: `${account.givenName} ${account.usualName}`, ...personClaims(account) };
        },
      };
    },
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== "AccessToken" || !("accountId" in token) || !token.accountId) return undefined;
      const account = await accounts.findById(token.accountId);
      return account ? personClaims(account) : undefined;
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = "html";
          ctx.body = pageAround(
            "Déconnexion",
            "Voulez-vous vous déconnecter de Mutualis ?",
            form,
            `<button type="submit" form="op.logoutForm" name="logout" value="yes">Se déconnecter</button> <button type="submit" form="op.logoutForm" class="secondary">Rester connecté</button>`,
          );
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = "html";
          ctx.body = page("Déconnecté", "<h1>Vous êtes déconnecté</h1><p>Vous pouvez fermer cette page.</p>");
        },
      },
      deviceFlow: {
        enabled: true,
        async userCodeInputSource(ctx, form, _out, error) {
          ctx.type = "html";
          const message = error ? `<div class="error" role="alert" id="erreur">Ce code n’est pas valable ou a expiré.</div>` : "";
          ctx.body = pageAround(
            "Connecter un appareil",
            "Saisissez le code affiché par l’outil en ligne de commande.",
            form,
            `${message}<label for="user_code">Code</label><input id="user_code" name="user_code" form="op.deviceInputForm" autocomplete="off" required autofocus${error ? ' aria-describedby="erreur"' : ""}><button type="submit" form="op.deviceInputForm">Continuer</button>`,
          );
        },
        async userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
          ctx.type = "html";
          ctx.body = pageAround(
            "Connecter un appareil",
            `L’application « ${client.clientName ?? client.clientId} » demande à se connecter avec le code ${userCode}. Vérifiez que ce code est celui qu’elle affiche.`,
            form,
            `<button type="submit" form="op.deviceConfirmForm">Autoriser</button> <button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="secondary">Refuser</button>`,
          );
        },
        async successSource(ctx) {
          ctx.type = "html";
          ctx.body = page("Appareil connecté", "<h1>Appareil connecté</h1><p>Vous pouvez revenir à votre terminal.</p>");
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => apiResource,
        useGrantedResource: () => true,
        async getResourceServerInfo(_ctx, indicator) {
          if (indicator !== apiResource) throw new errors.InvalidTarget();
          return {
            scope: "api",
            audience: settings.IDENTITY_AUDIENCE,
            accessTokenTTL: settings.IDENTITY_ACCESS_TOKEN_SECONDS,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "ES256" } },
          };
        },
      },
    },
    pkce: { required: () => true },
    async issueRefreshToken(_ctx, client) {
      return client.grantTypeAllowed("refresh_token");
    },
    // The platform's own applications are not asked for consent: their grant is made at sign-in.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const client = ctx.oidc.client!;
      const session = ctx.oidc.session!;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (grantId) {
        const grant = await ctx.oidc.provider.Grant.find(grantId);
        if (grant) return grant;
      }
      if (!firstParty.has(client.clientId) || !session.accountId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(oidcScopes);
      grant.addResourceScope(apiResource, "api");
      await grant.save();
      return grant;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: consentPolicy() },
    ttl: {
      AccessToken: settings.IDENTITY_ACCESS_TOKEN_SECONDS,
      AuthorizationCode: 60,
      ClientCredentials: settings.IDENTITY_ACCESS_TOKEN_SECONDS,
      DeviceCode: 600,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 30 * 86_400,
      Session: settings.IDENTITY_SESSION_SECONDS,
      Grant: 365 * 86_400,
    },
    async renderError(ctx, out) {
      ctx.type = "html";
      ctx.body = errorPage("Connexion impossible", frenchErrors[out.error] ?? "La connexion n’a pas pu aboutir. Recommencez depuis l’application.");
    },
  };
  const provider = new Provider(settings.IDENTITY_PUBLIC_ISSUER, configuration);
  provider.proxy = true;
  return provider;
}

export { escapeHtml };
