import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Express, Request, Response } from "express";
import type Provider from "oidc-provider";
import * as oidc from "openid-client";
import { ConfigError, Repository, trustingFetch, type Database, type Logger, type TenantRepository } from "@mutualis/service-kit";
import type { Account, AccountRepository } from "./accounts.ts";
import { page } from "./pages.ts";
import type { IdentitySettings } from "./settings.ts";

/** The claims ProConnect gives a service provider (its `doc_fs`): the scopes asked for, one per claim. */
export const proconnectScope = "openid email given_name usual_name uid siret idp_id";

/** What ProConnect says of an agent, from its signed user info. */
export interface ProConnectAgent {
  readonly sub: string;
  readonly email: string;
  readonly givenName: string;
  readonly usualName: string;
  readonly siret?: string;
  readonly uid?: string;
  readonly idpId?: string;
}

/** Reads the user info's claims; an answer without an address cannot be matched to anyone. */
export function agentOf(claims: Record<string, unknown>): ProConnectAgent {
  const text = (key: string) => (typeof claims[key] === "string" && claims[key] !== "" ? (claims[key] as string) : undefined);
  const email = text("email");
  const sub = text("sub");
  if (!email || !sub) throw new Error("ProConnect's user info has no e-mail or no subject");
  const siret = text("siret");
  return {
    sub,
    email: email.toLowerCase(),
    givenName: text("given_name") ?? "",
    usualName: text("usual_name") ?? "",
    ...(siret && /^[0-9]{14}$/.test(siret) ? { siret } : {}),
    ...(text("uid") ? { uid: text("uid")! } : {}),
    ...(text("idp_id") ? { idpId: text("idp_id")! } : {}),
  };
}

/** The SIREN of an establishment: the first nine digits of its SIRET. */
export const sirenOf = (siret: string) => siret.slice(0, 9);

/**
 * One sign-in on its way through ProConnect: which interaction it resumes, what must come back,
 * and once back, who ProConnect vouched for.
 */
interface Pending {
  _id: string;
  nonce: string;
  interaction: string;
  createdAt: Date;
  accountId?: string;
}

/** Pending federated sign-ins (ten minutes at most), so that any replica can take the return. */
class PendingSignIns extends Repository<Pending> {
  constructor(database: Database) {
    super(database, "federation_pending");
  }
  async put(pending: Pending): Promise<void> {
    await this.collection.insertOne(pending);
  }
  /** Taken once: a replayed return finds nothing. `back` says which step: ProConnect's return, or the end. */
  async take(state: string, back: boolean): Promise<Pending | undefined> {
    const found = await this.collection.findOneAndDelete({ _id: state, accountId: { $exists: back } });
    if (!found || Date.now() - found.createdAt.getTime() > 10 * 60_000) return undefined;
    return found;
  }
}

export interface FederationDependencies {
  readonly provider: Provider;
  readonly accounts: AccountRepository;
  readonly tenants: TenantRepository;
  readonly database: Database;
  readonly settings: IdentitySettings;
  readonly log: Logger;
  /** Records the sign-in (the observatory's active users) once the person is known. */
  readonly signedIn: (account: Account) => Promise<void>;
  /** Asks for the second factor when the person's collectivity requires one (see interactions.ts): true when it did. */
  readonly askSecondFactor: (res: Response, interaction: string, account: Account) => Promise<boolean>;
  /** Shows a French error page. */
  readonly fail: (res: Response, status: number, title: string, message: string) => void;
}

/** Where ProConnect sends people back: the identity's own address. */
export const callbackPath = "/proconnect/retour";

/**
 * The identity as a service provider of ProConnect (openid-client): `start` sends the person there
 * from the sign-in page, with a state and a nonce of 32 bytes; the return exchanges the code
 * (client_secret_post), checks the ID token and reads the signed user info. The agent is matched
 * by e-mail (an account is made if none exists); their SIRET's SIREN names the collectivity when
 * the platform serves one with that SIREN, which they join with no role until an administrator
 * grants one.
 */
export class ProConnectFederation {
  private config: Promise<oidc.Configuration> | undefined;
  private readonly pending: PendingSignIns;

  constructor(private readonly deps: FederationDependencies) {
    this.pending = new PendingSignIns(deps.database);
  }

  static enabled(settings: IdentitySettings): boolean {
    return Boolean(settings.IDENTITY_PROCONNECT_ISSUER);
  }

  private configuration(): Promise<oidc.Configuration> {
    const { settings } = this.deps;
    this.config ??= (async () => {
      let secret: string;
      try {
        secret = readFileSync(settings.IDENTITY_PROCONNECT_CLIENT_SECRET_FILE!, "utf8").trim();
      } catch {
        throw new ConfigError("invalid settings: IDENTITY_PROCONNECT_CLIENT_SECRET_FILE cannot be read");
      }
      const request = trustingFetch({ caFile: settings.IDENTITY_PROCONNECT_CA_FILE });
      const config = await oidc.discovery(
        new URL(settings.IDENTITY_PROCONNECT_ISSUER!),
        settings.IDENTITY_PROCONNECT_CLIENT_ID!,
        // ProConnect signs its ID tokens and its user info (RS256 unless the service asked otherwise).
        { id_token_signed_response_alg: settings.IDENTITY_PROCONNECT_SIGNING_ALG, userinfo_signed_response_alg: settings.IDENTITY_PROCONNECT_SIGNING_ALG },
        oidc.ClientSecretPost(secret),
        { [oidc.customFetch]: request as oidc.CustomFetch, timeout: 10 },
      );
      config[oidc.customFetch] = request as oidc.CustomFetch;
      return config;
    })().catch((error: unknown) => {
      this.config = undefined;
      throw error;
    });
    return this.config;
  }

  private get redirectUri(): string {
    return `${this.deps.settings.IDENTITY_PUBLIC_ISSUER}${callbackPath}`;
  }

  routes(app: Express): void {
    const { provider, log, fail } = this.deps;
    app.post("/interaction/:uid/proconnect", async (req: Request, res: Response) => {
      let interaction;
      try {
        interaction = await provider.interactionDetails(req, res);
      } catch {
        return void fail(res, 400, "Session expirée", "Votre demande de connexion a expiré : recommencez depuis l’application.");
      }
      let config: oidc.Configuration;
      try {
        config = await this.configuration();
      } catch (error) {
        log.error({ err: error }, "ProConnect cannot be reached");
        return void fail(res, 503, "ProConnect indisponible", "ProConnect ne répond pas pour le moment : réessayez plus tard, ou connectez-vous avec votre mot de passe.");
      }
      const state = randomBytes(32).toString("base64url");
      const nonce = randomBytes(32).toString("base64url");
      await this.pending.put({ _id: state, nonce, interaction: interaction.uid, createdAt: new Date() });
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: this.redirectUri, scope: proconnectScope, state, nonce, acr_values: "eidas1" });
      res.redirect(303, url.href);
    });

    // ProConnect's return, at the one address registered there: the code is exchanged, and the
    // person found. The interaction's cookie lives under /interaction/<uid>: the sign-in ends there.
    app.get(callbackPath, async (req: Request, res: Response) => {
      const state = typeof req.query.state === "string" ? req.query.state : "";
      const pending = state ? await this.pending.take(state, false) : undefined;
      if (!pending) return void fail(res, 400, "Connexion expirée", "Ce retour de ProConnect n’est plus valable : recommencez la connexion depuis l’application.");
      if (typeof req.query.error === "string") {
        log.info({ error: req.query.error }, "the sign-in at ProConnect did not end");
        return void fail(res, 401, "Connexion interrompue", "La connexion par ProConnect n’a pas abouti : recommencez depuis l’application, ou connectez-vous avec votre mot de passe.");
      }
      let agent: ProConnectAgent;
      try {
        const config = await this.configuration();
        const current = new URL(`${this.redirectUri}?${new URLSearchParams(req.query as Record<string, string>).toString()}`);
        const tokens = await oidc.authorizationCodeGrant(config, current, { expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true });
        const subject = tokens.claims()!.sub;
        agent = agentOf((await oidc.fetchUserInfo(config, tokens.access_token, subject)) as Record<string, unknown>);
      } catch (error) {
        // The reason is logged (never a token or a code); the person is told it failed.
        log.warn({ reason: (error as Error).message, code: (error as { code?: string }).code }, "a ProConnect sign-in failed");
        return void fail(res, 502, "Connexion impossible", "La connexion par ProConnect n’a pas abouti : réessayez, ou connectez-vous avec votre mot de passe.");
      }
      const account = await this.accountOf(agent);
      if (!account.active) return void fail(res, 403, "Compte désactivé", "Votre compte Mutualis est désactivé : adressez-vous à l’administrateur de votre collectivité.");
      const next = randomBytes(32).toString("base64url");
      await this.pending.put({ _id: next, nonce: "", interaction: pending.interaction, createdAt: pending.createdAt, accountId: account._id });
      // A new navigation, not a redirect: the redirects of a form sent on ProConnect's page stay
      // under that page's form-action policy, which would stop the way back to the application.
      const onward = `/interaction/${pending.interaction}/proconnect/fin?etat=${next}`;
      res
        .status(200)
        .type("html")
        .set({ "cache-control": "no-store", refresh: `0;url=${onward}` })
        .send(page("Connexion en cours", `<h1>Connexion en cours</h1><p>ProConnect vous a identifié. <a href="${onward}">Continuer vers l’application</a></p>`));
    });

    app.get("/interaction/:uid/proconnect/fin", async (req: Request, res: Response) => {
      const state = typeof req.query.etat === "string" ? req.query.etat : "";
      const done = state ? await this.pending.take(state, true) : undefined;
      let interaction;
      try {
        interaction = await provider.interactionDetails(req, res);
      } catch {
        return void fail(res, 400, "Session expirée", "Votre demande de connexion a expiré : recommencez depuis l’application.");
      }
      if (!done || interaction.uid !== done.interaction) return void fail(res, 400, "Connexion expirée", "Ce retour de ProConnect ne correspond pas à votre demande de connexion.");
      const account = await this.deps.accounts.require(done.accountId!);
      // ProConnect vouched for the person; an administrator whose collectivity requires it still gives their code.
      if (await this.deps.askSecondFactor(res, interaction.uid, account)) return;
      await this.deps.signedIn(account);
      await provider.interactionFinished(req, res, { login: { accountId: account._id, amr: ["proconnect"] } }, { mergeWithLastSubmission: false });
    });
  }

  /**
   * The person ProConnect vouches for: the account with their address (made if none, its address
   * verified by ProConnect), which joins, with no role, the collectivity whose SIREN their
   * establishment's SIRET begins with, when the platform serves one.
   */
  async accountOf(agent: ProConnectAgent): Promise<Account> {
    const { accounts, tenants, log } = this.deps;
    let account = (await accounts.findByEmail(agent.email)) ?? (await accounts.create({ kind: "agent", email: agent.email, givenName: agent.givenName || "—", usualName: agent.usualName || "—", emailVerified: true }));
    await accounts.linkProConnect(account._id, { sub: agent.sub, ...(agent.siret ? { siret: agent.siret } : {}), ...(agent.idpId ? { idpId: agent.idpId } : {}) });
    const collectivity = agent.siret ? await tenants.bySiren(sirenOf(agent.siret)) : undefined;
    if (collectivity && !account.memberships.some((m) => m.collectivity === collectivity)) {
      account = await accounts.setMembership(account._id, collectivity, []);
      log.info({ collectivity }, "an agent arriving through ProConnect joined their collectivity, with no role yet");
    }
    return account;
  }
}
