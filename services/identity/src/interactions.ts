import express, { type Express, type Request, type Response } from "express";
import type Provider from "oidc-provider";
import type { BusinessEvents, Logger, TenantRepository } from "@mutualis/service-kit";
import type { Account, AccountRepository } from "./accounts.ts";
import { unmatchableHash, type PasswordHasher } from "./passwords.ts";
import { consentPage, errorPage, signInPage, totpEnrollmentPage, totpPage } from "./pages.ts";
import { secondFactorRequired, type SecondFactor } from "./second-factor.ts";
import type { IdentitySettings } from "./settings.ts";

/** At most `limit` sign-in attempts per address of origin per minute, in this replica. */
export class AttemptWindow {
  private readonly counts = new Map<string, { start: number; count: number }>();
  constructor(private readonly limit: number) {}
  allow(origin: string, now: number): boolean {
    const entry = this.counts.get(origin);
    if (!entry || now - entry.start >= 60_000) {
      if (this.counts.size > 10_000) this.counts.clear();
      this.counts.set(origin, { start: now, count: 1 });
      return true;
    }
    entry.count += 1;
    return entry.count <= this.limit;
  }
}

interface InteractionDependencies {
  readonly provider: Provider;
  readonly accounts: AccountRepository;
  readonly hasher: PasswordHasher;
  readonly settings: IdentitySettings;
  readonly events: BusinessEvents;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Whether the sign-in page offers ProConnect (see federation.ts). */
  readonly proconnect?: boolean;
  /** The second factor some collectivities require of their administrators, and those collectivities' settings. */
  readonly secondFactor?: { readonly codes: SecondFactor; readonly tenants: TenantRepository };
}

const wrongCredentials = "Adresse électronique ou mot de passe incorrect.";
const lockedOut = "Trop de tentatives de connexion pour cette adresse : réessayez dans quelques minutes.";

/**
 * The interactions oidc-provider hands over: signing in with a password, and consent for
 * applications that are not the platform's own. Every refusal reads the same whether the
 * address has an account or not.
 */
export function interactionRoutes(app: Express, deps: InteractionDependencies): void {
  const { provider, accounts, hasher, settings, log } = deps;
  const now = () => deps.now?.() ?? new Date();
  const window = new AttemptWindow(settings.IDENTITY_ATTEMPTS_PER_MINUTE);
  const proconnectOf = (uid: string) => (deps.proconnect ? { proconnect: `/interaction/${uid}/proconnect` } : {});
  const form = express.urlencoded({ extended: false, limit: "8kb" });
  const html = (res: Response, status: number, body: string) => res.status(status).type("html").set("cache-control", "no-store").send(body);
  const clientName = async (clientId: string | undefined) => {
    const client = clientId ? await provider.Client.find(clientId) : undefined;
    return client?.clientName ?? clientId ?? "Mutualis";
  };
  const details = async (req: Request, res: Response) => {
    try {
      return await provider.interactionDetails(req, res);
    } catch {
      html(res, 400, errorPage("Session expirée", "Votre demande de connexion a expiré : recommencez depuis l’application."));
      return undefined;
    }
  };

  app.get("/interaction/:uid", async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction) return;
    const client = await clientName(interaction.params.client_id as string | undefined);
    if (interaction.prompt.name === "login") {
      return void html(res, 200, signInPage({ action: `/interaction/${interaction.uid}/login`, client, email: interaction.params.login_hint as string | undefined, ...proconnectOf(interaction.uid) }));
    }
    const scopes = [...new Set([...((interaction.prompt.details.missingOIDCScope as string[] | undefined) ?? []), ...Object.values((interaction.prompt.details.missingResourceScopes as Record<string, string[]> | undefined) ?? {}).flat()])];
    html(res, 200, consentPage({ action: `/interaction/${interaction.uid}/confirm`, abort: `/interaction/${interaction.uid}/abort`, client, scopes }));
  });

  app.post("/interaction/:uid/login", form, async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction) return;
    const client = await clientName(interaction.params.client_id as string | undefined);
    const email = typeof req.body?.email === "string" ? req.body.email.trim().slice(0, 254) : "";
    const password = typeof req.body?.password === "string" ? req.body.password.slice(0, 1024) : "";
    const again = (status: number, error: string) => html(res, status, signInPage({ action: `/interaction/${interaction.uid}/login`, client, email, error, ...proconnectOf(interaction.uid) }));
    if (!window.allow(req.ip ?? "unknown", now().getTime())) return void again(429, lockedOut);
    if (!email || !password) return void again(400, "Saisissez votre adresse électronique et votre mot de passe.");
    if (await accounts.locked(email, now())) return void again(429, lockedOut);
    const account = await accounts.findByEmail(email);
    // An unknown address costs the same hash as a known one.
    const matches = await hasher.verify(password, account?.passwordHash ?? unmatchableHash);
    if (!account || !matches || !account.active) {
      const locked = await accounts.failed(email, { attempts: settings.IDENTITY_LOCKOUT_ATTEMPTS, lockSeconds: settings.IDENTITY_LOCKOUT_SECONDS }, now());
      if (locked) log.warn({ reason: "too many failed sign-ins" }, "an address is locked out");
      return void again(locked ? 429 : 401, locked ? lockedOut : wrongCredentials);
    }
    if (!account.emailVerified) return void again(403, "Confirmez d’abord votre adresse électronique avec le lien reçu par courriel.");
    await accounts.succeeded(email);
    if (await askSecondFactor(deps, res, interaction.uid, account, "password")) return;
    await signedIn(deps, account, "password");
    await provider.interactionFinished(req, res, { login: { accountId: account._id, amr: ["pwd"] } }, { mergeWithLastSubmission: false });
  });

  app.post("/interaction/:uid/totp", form, async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction || !deps.secondFactor) return;
    const codes = deps.secondFactor.codes;
    const waiting = await codes.waiting(interaction.uid);
    if (!waiting) return void html(res, 400, errorPage("Connexion expirée", "Votre connexion a expiré ou trop de codes incorrects ont été saisis : recommencez depuis l’application."));
    const code = typeof req.body?.code === "string" ? req.body.code.trim() : "";
    const result = await codes.check(waiting, code);
    if (result === "exhausted") {
      log.warn({ reason: "too many wrong codes" }, "a second factor was refused");
      return void html(res, 429, errorPage("Trop de codes incorrects", "Trop de codes incorrects ont été saisis : recommencez la connexion depuis l’application."));
    }
    const action = `/interaction/${interaction.uid}/totp`;
    if (result === "wrong") {
      const enrolling = codes.enrollment(waiting, (await accounts.require(waiting.accountId)).email);
      const error = "Ce code n’est pas le bon, ou a déjà servi : saisissez le code affiché maintenant par votre application.";
      return void html(res, 401, enrolling ? totpEnrollmentPage({ action, ...enrolling, error }) : totpPage({ action, error }));
    }
    await signedIn(deps, result.account, result.method);
    await provider.interactionFinished(req, res, { login: { accountId: result.account._id, amr: [result.method === "password" ? "pwd" : "proconnect", "otp"] } }, { mergeWithLastSubmission: false });
  });

  app.post("/interaction/:uid/confirm", async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction) return;
    const accountId = interaction.session?.accountId;
    if (interaction.prompt.name !== "consent" || !accountId) return void html(res, 400, errorPage("Demande invalide", "Il n’y a rien à autoriser ici."));
    const grant = interaction.grantId
      ? ((await provider.Grant.find(interaction.grantId)) ?? new provider.Grant({ accountId, clientId: interaction.params.client_id as string }))
      : new provider.Grant({ accountId, clientId: interaction.params.client_id as string });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(" "));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(" "));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  });

  app.post("/interaction/:uid/abort", async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction) return;
    await provider.interactionFinished(req, res, { error: "access_denied", error_description: "the person refused" }, { mergeWithLastSubmission: false });
  });
}

/**
 * After the first proof (a password, ProConnect): when the person has a second factor, or
 * administers a collectivity that requires one, the page asking for its code (or setting it up) is
 * shown and true returned; the sign-in then ends at `/interaction/<uid>/totp`.
 */
export async function askSecondFactor(
  deps: Pick<InteractionDependencies, "secondFactor">,
  res: Response,
  interaction: string,
  account: Account,
  method: "password" | "proconnect",
): Promise<boolean> {
  const second = deps.secondFactor;
  if (!second || !(account.totp || (await secondFactorRequired(account, second.tenants)))) return false;
  const { enrolling } = await second.codes.begin(interaction, account, method);
  const action = `/interaction/${interaction}/totp`;
  res.status(200).type("html").set("cache-control", "no-store").send(enrolling ? totpEnrollmentPage({ action, ...enrolling }) : totpPage({ action }));
  return true;
}

/**
 * A sign-in, counted for the observatory's active users: once a calendar month per person and
 * collectivity (the event's id deduplicates), by password or through ProConnect.
 */
export async function signedIn(deps: Pick<InteractionDependencies, "accounts" | "events"> & { readonly now?: () => Date }, account: Account, method: "password" | "proconnect"): Promise<void> {
  const at = deps.now?.() ?? new Date();
  await deps.accounts.signedIn(account._id, at);
  const month = at.toISOString().slice(0, 7);
  for (const membership of account.memberships) {
    if (membership.deactivatedAt) continue;
    deps.events.record(membership.collectivity, `signed_in_${method}`, `${account._id}.${month}`, 1, at);
  }
}
