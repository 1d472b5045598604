import { createHash, randomBytes } from "node:crypto";
import express, { type Express, type Response } from "express";
import { Conflict, Repository, type Database, type Logger, type Mailer } from "@mutualis/service-kit";
import type { AccountRepository } from "./accounts.ts";
import { AttemptWindow } from "./interactions.ts";
import { escapeHtml, page } from "./pages.ts";
import type { PasswordHasher } from "./passwords.ts";

/**
 * A SIRET's check: the Luhn sum over its 14 digits (INSEE). La Poste's establishments
 * (SIREN 356 000 000) are checked by the sum of their digits instead, which must be a multiple of 5.
 */
export function isValidSiret(siret: string): boolean {
  if (!/^[0-9]{14}$/.test(siret)) return false;
  if (siret.startsWith("356000000") && siret !== "35600000000048") return [...siret].reduce((sum, d) => sum + Number(d), 0) % 5 === 0;
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let digit = Number(siret[13 - i]);
    if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return sum % 10 === 0;
}

export interface RegistrationForm {
  readonly companyName: string;
  readonly siret: string;
  readonly givenName: string;
  readonly usualName: string;
  readonly email: string;
  readonly password: string;
  readonly confirmation: string;
}

/** What is wrong with a registration, field by field (French, for the page); empty when none. */
export function registrationProblems(form: RegistrationForm): Record<string, string> {
  const problems: Record<string, string> = {};
  if (!form.companyName.trim() || form.companyName.length > 200) problems.companyName = "Indiquez la raison sociale de l’entreprise.";
  if (!isValidSiret(form.siret.replace(/\s/g, ""))) problems.siret = "Le numéro SIRET doit compter 14 chiffres et être valide.";
  if (!form.givenName.trim() || form.givenName.length > 100) problems.givenName = "Indiquez votre prénom.";
  if (!form.usualName.trim() || form.usualName.length > 100) problems.usualName = "Indiquez votre nom.";
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.email) || form.email.length > 254) problems.email = "Indiquez une adresse électronique valide.";
  if (form.password.length < 12 || form.password.length > 1024) problems.password = "Le mot de passe doit compter au moins 12 caractères.";
  else if (form.password !== form.confirmation) problems.confirmation = "Les deux mots de passe ne sont pas identiques.";
  return problems;
}

const fields: readonly { name: keyof RegistrationForm; label: string; type: string; autocomplete: string; hint?: string }[] = [
  { name: "companyName", label: "Raison sociale de l’entreprise", type: "text", autocomplete: "organization" },
  { name: "siret", label: "Numéro SIRET de l’établissement", type: "text", autocomplete: "off", hint: "14 chiffres, sans espace." },
  { name: "givenName", label: "Prénom", type: "text", autocomplete: "given-name" },
  { name: "usualName", label: "Nom", type: "text", autocomplete: "family-name" },
  { name: "email", label: "Adresse électronique professionnelle", type: "email", autocomplete: "email" },
  { name: "password", label: "Mot de passe", type: "password", autocomplete: "new-password", hint: "Au moins 12 caractères." },
  { name: "confirmation", label: "Confirmation du mot de passe", type: "password", autocomplete: "new-password" },
];

/** The registration page: each field labelled, its hint and its error tied to it, the first error focused. */
export function registrationPage(values: Partial<RegistrationForm> = {}, problems: Record<string, string> = {}): string {
  const first = fields.find((f) => problems[f.name])?.name;
  const summary = Object.keys(problems).length
    ? `<div class="error" role="alert" id="erreurs"><p>Le formulaire comporte ${Object.keys(problems).length === 1 ? "une erreur" : `${Object.keys(problems).length} erreurs`} :</p><ul>${fields
        .filter((f) => problems[f.name])
        .map((f) => `<li><a href="#${f.name}">${escapeHtml(problems[f.name]!)}</a></li>`)
        .join("")}</ul></div>`
    : "";
  const inputs = fields
    .map((f) => {
      const described = [f.hint ? `${f.name}-aide` : "", problems[f.name] ? `${f.name}-erreur` : ""].filter(Boolean).join(" ");
      const value = f.type === "password" ? "" : escapeHtml(String(values[f.name] ?? ""));
      return `<label for="${f.name}">${escapeHtml(f.label)}</label>${f.hint ? `<p class="hint" id="${f.name}-aide">${escapeHtml(f.hint)}</p>` : ""}${problems[f.name] ? `<p class="error" id="${f.name}-erreur">${escapeHtml(problems[f.name]!)}</p>` : ""}<input id="${f.name}" name="${f.name}" type="${f.type}" autocomplete="${f.autocomplete}" required value="${value}"${described ? ` aria-describedby="${described}"` : ""}${problems[f.name] ? ' aria-invalid="true"' : ""}${(first ?? "companyName") === f.name ? " autofocus" : ""}>`;
    })
    .join("\n");
  return page(
    "Inscrire une entreprise",
    `<h1>Inscrire votre entreprise</h1>
<p>Pour répondre aux consultations et déposer vos factures auprès des collectivités de la plateforme. Un courriel vous sera envoyé pour confirmer votre adresse.</p>
${summary}
<form method="post" action="/inscription" novalidate>
${inputs}
<button type="submit">Inscrire l’entreprise</button>
</form>`,
  );
}

/** Confirmation links waiting to be followed: their digest only, for a day. */
interface Confirmation {
  _id: string;
  accountId: string;
  expiresAt: Date;
}

class Confirmations extends Repository<Confirmation> {
  constructor(database: Database) {
    super(database, "email_confirmations");
  }
  async issue(accountId: string): Promise<string> {
    const token = randomBytes(32).toString("base64url");
    await this.collection.insertOne({ _id: digest(token), accountId, expiresAt: new Date(Date.now() + 24 * 3600_000) });
    return token;
  }
  /** Used once. */
  async take(token: string): Promise<string | undefined> {
    const found = await this.collection.findOneAndDelete({ _id: digest(token) });
    return found && found.expiresAt.getTime() > Date.now() ? found.accountId : undefined;
  }
}

const digest = (token: string) => createHash("sha256").update(token).digest("hex");

/** The same answer whether the address was new or known: registering never tells who has an account. */
const sent = page(
  "Vérifiez votre messagerie",
  `<h1>Vérifiez votre messagerie</h1><p role="status">Si cette adresse n’a pas déjà de compte, un courriel vient de lui être envoyé : suivez le lien qu’il contient pour confirmer votre adresse, puis connectez-vous depuis l’application.</p>`,
);

/**
 * Companies register themselves: a company user, their company (its SIRET, checked), a password
 * hashed off the request path; their address is confirmed by a link sent by e-mail before they
 * can sign in.
 */
export function registrationRoutes(app: Express, deps: { accounts: AccountRepository; hasher: PasswordHasher; database: Database; mailer: Mailer; issuer: string; log: Logger }): void {
  const confirmations = new Confirmations(deps.database);
  const window = new AttemptWindow(10);
  const html = (res: Response, status: number, body: string) => res.status(status).type("html").set("cache-control", "no-store").send(body);
  const form = express.urlencoded({ extended: false, limit: "8kb" });

  app.get("/inscription", (_req, res) => html(res, 200, registrationPage()));

  app.post("/inscription", form, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const text = (key: keyof RegistrationForm) => (typeof body[key] === "string" ? (body[key] as string) : "");
    const values: RegistrationForm = {
      companyName: text("companyName").trim(),
      siret: text("siret").replace(/\s/g, ""),
      givenName: text("givenName").trim(),
      usualName: text("usualName").trim(),
      email: text("email").trim().toLowerCase(),
      password: text("password"),
      confirmation: text("confirmation"),
    };
    if (!window.allow(req.ip ?? "unknown", Date.now())) return void html(res, 429, page("Trop de demandes", "<h1>Trop de demandes</h1><p role=\"alert\">Réessayez dans une minute.</p>"));
    const problems = registrationProblems(values);
    if (Object.keys(problems).length > 0) return void html(res, 400, registrationPage(values, problems));
    try {
      const account = await deps.accounts.create({
        kind: "company",
        email: values.email,
        givenName: values.givenName,
        usualName: values.usualName,
        company: { siret: values.siret, name: values.companyName },
        passwordHash: await deps.hasher.hash(values.password),
        emailVerified: false,
      });
      const token = await confirmations.issue(account._id);
      await deps.mailer.send({
        to: account.email,
        subject: "Confirmez votre adresse pour Mutualis",
        text:
          `Bonjour ${values.givenName},\n\nVous avez inscrit ${values.companyName} (SIRET ${values.siret}) sur la plateforme Mutualis.\n` +
          `Confirmez votre adresse en suivant ce lien, valable 24 heures :\n${deps.issuer}/inscription/confirmer?jeton=${token}\n\n` +
          "Si vous n’êtes pas à l’origine de cette inscription, ignorez ce message.\n\n--\nMutualis",
      });
      deps.log.info({ kind: "company" }, "a company registered; its address is to be confirmed");
    } catch (error) {
      // An address already known gets the same page, and no e-mail.
      if (!(error instanceof Conflict)) throw error;
    }
    html(res, 202, sent);
  });

  app.get("/inscription/confirmer", async (req, res) => {
    const token = typeof req.query.jeton === "string" ? req.query.jeton : "";
    const accountId = token ? await confirmations.take(token) : undefined;
    if (!accountId) return void html(res, 400, page("Lien non valable", `<h1>Lien non valable</h1><p role="alert">Ce lien de confirmation n’est pas valable ou a expiré : inscrivez-vous à nouveau.</p>`));
    await deps.accounts.confirmEmail(accountId);
    html(res, 200, page("Adresse confirmée", `<h1>Adresse confirmée</h1><p role="status">Votre adresse est confirmée : vous pouvez vous connecter depuis l’application.</p>`));
  });
}
