import type { RequestHandler } from "express";
import type Provider from "oidc-provider";
import { Mailer, tenantEndpoints, TenantRepository, type ServiceDefinition } from "@mutualis/service-kit";
import { AccountRepository } from "./accounts.ts";
import { mongoAdapter } from "./adapter.ts";
import { loadClients, type ClientMetadata } from "./clients.ts";
import { ProConnectFederation } from "./federation.ts";
import { askSecondFactor, interactionRoutes, signedIn } from "./interactions.ts";
import { errorPage } from "./pages.ts";
import { loadKeys, type IdentityKeys } from "./keys.ts";
import { memberEndpoints, MembershipAudit } from "./members.ts";
import { PasswordHasher } from "./passwords.ts";
import { registrationRoutes } from "./registration.ts";
import { identityTenantSettings, SecondFactor } from "./second-factor.ts";
import { stepUpEndpoints } from "./step-up.ts";
import { createProvider } from "./provider.ts";
import { seedAccounts } from "./seed.ts";
import type { IdentitySettings } from "./settings.ts";

/**
 * The pages' security policy: forms post to the identity itself, which then redirects to the
 * applications' registered addresses (browsers hold `form-action` to redirects too).
 */
function contentSecurity(clients: readonly ClientMetadata[], federation: readonly string[]): RequestHandler {
  const origins = [...new Set([...clients.flatMap((c) => [...c.redirect_uris, ...c.post_logout_redirect_uris]), ...federation].map((uri) => new URL(uri).origin))];
  const policy = ["default-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", `form-action 'self' ${origins.join(" ")}`, "frame-ancestors 'none'", "base-uri 'none'"].join("; ");
  return (_req, res, next) => {
    res.setHeader("Content-Security-Policy", policy);
    next();
  };
}

/** The identity service: the platform's OpenID Connect provider and its members' management. */
export function identityService(): ServiceDefinition<IdentitySettings> {
  let provider: Provider;
  let accounts: AccountRepository;
  let hasher: PasswordHasher;
  let clients: ClientMetadata[];
  let keys: IdentityKeys;
  let sweeper: NodeJS.Timeout | undefined;
  return {
    description: "Identity: single sign-on for agents and company users (OpenID Connect), federation with ProConnect, memberships and roles",
    async onStart({ settings, database, log }) {
      keys = loadKeys(settings.IDENTITY_KEYS_FILE);
      clients = loadClients(settings.IDENTITY_CLIENTS_FILE);
      accounts = new AccountRepository(database);
      hasher = new PasswordHasher(settings.IDENTITY_HASH_CONCURRENCY);
      await accounts.ensureIndexes();
      const store = mongoAdapter(database);
      await store.ensureIndexes();
      if (settings.IDENTITY_SEED_FILE) await seedAccounts(settings.IDENTITY_SEED_FILE, accounts, hasher, log);
      provider = createProvider({ settings, keys, clients, accounts, ...(settings.IDENTITY_STORE === "database" ? { adapter: store.adapter } : {}) });
      if (settings.IDENTITY_STORE === "memory") log.warn("sessions and tokens are kept in this process's memory: one replica only, lost at restart");
      // What oidc-provider reports is logged without tokens or codes: the error's name and description.
      provider.on("server_error", (_ctx, error) => log.error({ err: error }, "identity provider error"));
      provider.on("authorization.error", (_ctx, error) => log.info({ error: (error as { error?: string }).error, reason: (error as { error_description?: string }).error_description }, "authorization request refused"));
      provider.on("grant.error", (_ctx, error) => log.info({ error: (error as { error?: string }).error, reason: (error as { error_description?: string }).error_description }, "token request refused"));
      log.info({ issuer: settings.IDENTITY_PUBLIC_ISSUER, keys: keys.jwks.keys.map((k) => k.kid), clients: clients.map((c) => c.client_id) }, "identity provider ready");
      sweeper = setInterval(() => {
        store.sweep().catch((error: unknown) => log.warn({ err: error }, "expired sessions and tokens not swept"));
      }, 5 * 60_000);
    },
    async onStop() {
      clearInterval(sweeper);
    },
    routes(app, { settings, events, log, database }) {
      // The sign-in page's ProConnect button leaves for ProConnect: its origin is a form's destination too.
      const proconnect = ProConnectFederation.enabled(settings);
      app.use(contentSecurity(clients, proconnect ? [settings.IDENTITY_PROCONNECT_ISSUER!] : []));
      const tenants = new TenantRepository(database, "identity", identityTenantSettings);
      const secondFactor = { codes: new SecondFactor(database, accounts), tenants };
      interactionRoutes(app, { provider, accounts, hasher, settings, events, log, proconnect, secondFactor });
      registrationRoutes(app, { accounts, hasher, database, mailer: Mailer.fromSettings(settings, log), issuer: settings.IDENTITY_PUBLIC_ISSUER, log });
      if (proconnect) {
        new ProConnectFederation({
          provider,
          accounts,
          tenants,
          database,
          settings,
          log,
          signedIn: (account) => signedIn({ accounts, events }, account, "proconnect"),
          askSecondFactor: (res, interaction, account) => askSecondFactor({ secondFactor }, res, interaction, account, "proconnect"),
          fail: (res, status, title, message) => void res.status(status).type("html").set("cache-control", "no-store").send(errorPage(title, message)),
        }).routes(app);
      }
      app.use(provider.callback());
    },
    // The operator enables collectivities here as on every shared service: their SIREN names the
    // collectivity of an agent arriving through ProConnect.
    endpoints: ({ database, settings }) => [
      ...memberEndpoints(new AccountRepository(database), new MembershipAudit(database)),
      ...stepUpEndpoints(database, accounts, keys, settings.IDENTITY_PUBLIC_ISSUER),
      ...tenantEndpoints("identity", new TenantRepository(database, "identity", identityTenantSettings)),
    ],
  };
}
