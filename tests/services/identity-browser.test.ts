import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, layout } from "@mutualis/local-platform";
import type { RunningOperator } from "@mutualis/operator";
import { proconnectSettings, proconnectSimulator, type ProConnectSimulator } from "@mutualis/proconnect-simulator";
import { AccountRepository, currentCode } from "@mutualis/identity";
import { generate } from "otplib";
import { CallerVerifier, Database, loadSettings, type UserCaller } from "@mutualis/service-kit";
import { agent, cliRedirect, reserveTestIdentity, startTestIdentity, testPassword, type TestIdentity } from "../support/identity.ts";
import { launchChromium } from "../support/browser.ts";
import { startTestOperator } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { freePort, platformServicesCreds } from "../support/services.ts";

const platform = testPlatform();
const database = "identity_browser_tests";
let operator: RunningOperator;
let identity: TestIdentity;
let simulator: ProConnectSimulator;
let browser: Browser;
let nc: NatsConnection;

/** An authorization request of the command-line client, as a browser opens it; its code's verifier and state. */
function authorization(): { url: string; verifier: string; state: string } {
  const verifier = randomBytes(32).toString("base64url");
  const state = randomBytes(24).toString("base64url");
  const url = new URL(`${identity.issuer}/auth`);
  for (const [key, value] of Object.entries({
    client_id: "mutualis-cli",
    redirect_uri: cliRedirect,
    response_type: "code",
    scope: "openid email profile api",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    state,
    nonce: randomBytes(24).toString("base64url"),
  })) {
    url.searchParams.set(key, value);
  }
  return { url: url.href, verifier, state };
}

/** Opens the sign-in in a fresh browser context; resolves with the code the identity sends back to the application. */
async function signInPage(): Promise<{ page: Page; code: Promise<string>; verifier: string }> {
  const context = await browser.newContext({ locale: "fr-FR", ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const { url, verifier, state } = authorization();
  // The application's address is not served here: the browser's arrival there is the end.
  const code = new Promise<string>((resolvePromise, reject) => {
    void page.route(`${cliRedirect}**`, async (route) => {
      const back = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>Application</title><p>ok</p>" });
      if (back.searchParams.get("state") !== state) reject(new Error("state mismatch"));
      else resolvePromise(back.searchParams.get("code") ?? `error: ${back.searchParams.get("error_description")}`);
    });
  });
  await page.goto(url);
  return { page, code, verifier };
}

/** The application's exchange of the code for tokens; the access token's caller. */
async function callerFrom(code: string, verifier: string): Promise<UserCaller> {
  const answer = await identity.fetch(`${identity.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: cliRedirect, code_verifier: verifier, client_id: "mutualis-cli" }).toString(),
  });
  const tokens = (await answer.json()) as { access_token: string };
  return (await new CallerVerifier({ issuer: identity.issuer, audience: "mutualis-api", caFile: identity.caFile }).verify(`Bearer ${tokens.access_token}`)) as UserCaller;
}

describe("signing in at the identity service in a browser: by password, and through ProConnect", () => {
  beforeAll(async () => {
    operator = await startTestOperator();
    const creds = await platformServicesCreds();
    const reserved = await reserveTestIdentity();
    // The ProConnect simulator, over TLS from the local CA, with the identity registered as a service provider.
    const pki = layout(platform.config).pki;
    const tls = issueCertificate(pki, "proconnect", { commonName: "proconnect-simulator" }, "serving");
    const secret = randomBytes(24).toString("base64url");
    const dir = mkdtempSync(join(tmpdir(), "proconnect-client-"));
    writeFileSync(join(dir, "secret"), secret, { mode: 0o600 });
    simulator = await proconnectSimulator(
      loadSettings(proconnectSettings, {
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: String(await freePort()),
        HTTP_INTERNAL_PORT: "0",
        LOG_LEVEL: "silent",
        PROCONNECT_TLS_CERT_FILE: tls.cert,
        PROCONNECT_TLS_KEY_FILE: tls.key,
        PROCONNECT_CLIENTS: JSON.stringify([{ client_id: "mutualis-identity", client_secret: secret, redirect_uris: [`${reserved.issuer}/proconnect/retour`], post_logout_redirect_uris: [] }]),
      }),
    ).start();
    identity = await startTestIdentity(
      creds,
      database,
      [
        agent("sterenn.kerbrat@t-idb-rennes.test", { "t-idb-rennes": ["agent"] }),
        agent("informatique@t-idb-quimper.test", { "t-idb-quimper": ["agent", "administrateur"] }),
        agent("accueil@t-idb-quimper.test", { "t-idb-quimper": ["agent"] }),
      ],
      {
        IDENTITY_PROCONNECT_ISSUER: simulator.issuer,
        IDENTITY_PROCONNECT_CLIENT_ID: "mutualis-identity",
        IDENTITY_PROCONNECT_CLIENT_SECRET_FILE: join(dir, "secret"),
        IDENTITY_PROCONNECT_CA_FILE: join(pki, "ca.crt"),
        // Its e-mails (registration's confirmations) go to the test platform's mail catcher.
        SMTP_URL: platform.env.SMTP_URL,
      },
      reserved,
    );
    // The collectivity the simulator's Rennes agents work for (SIRET 213502388 00019) uses the platform.
    nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(readFileSync(creds.client)) });
    const enabled = await nc.request("platform.identity.tenants.enable", JSON.stringify({ collectivity: "t-idb-rennes", siren: "213502388", departement: "035", displayName: "Ville de Rennes (test)" }), { timeout: 5000 });
    expect(enabled.headers?.get("Nats-Service-Error-Code") ?? "").toBe("");
    // Quimper requires a second factor of its administrators.
    const quimper = await nc.request("platform.identity.tenants.enable", JSON.stringify({ collectivity: "t-idb-quimper", siren: "212902324", departement: "029", displayName: "Ville de Quimper (test)", settings: { administratorsTotp: true } }), { timeout: 5000 });
    expect(quimper.headers?.get("Nats-Service-Error-Code") ?? "").toBe("");
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await nc?.close();
    await identity?.stop();
    await simulator?.stop();
    await operator?.stop();
  });

  it("when an agent signs in by password with the keyboard alone, then the page is in French, labelled, and the application gets their token", async () => {
    const { page, code, verifier } = await signInPage();
    expect(await page.getAttribute("html", "lang")).toBe("fr");
    expect(await page.title()).toContain("Connexion");
    // The address field has the focus; Tab reaches the password, Enter sends.
    expect(await page.evaluate("document.activeElement?.id")).toBe("email");
    await page.keyboard.type("sterenn.kerbrat@t-idb-rennes.test");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.id")).toBe("password");
    await page.keyboard.type(testPassword);
    await page.keyboard.press("Enter");
    const caller = await callerFrom(await code, verifier);
    expect(caller).toMatchObject({ email: "sterenn.kerbrat@t-idb-rennes.test", memberships: { "t-idb-rennes": ["agent"] } });
    await page.context().close();
  });

  it("when the password is wrong, then the page says so in an alert tied to the fields, the same as for an unknown address", async () => {
    const { page } = await signInPage();
    await page.fill("#email", "sterenn.kerbrat@t-idb-rennes.test");
    await page.fill("#password", "pas-le-bon-mot-de-passe");
    await page.press("#password", "Enter");
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const known = await alert.textContent();
    expect(await page.getAttribute("#password", "aria-describedby")).toBe("erreur");
    await page.fill("#email", "personne@t-idb-rennes.test");
    await page.fill("#password", "pas-le-bon-mot-de-passe");
    await page.press("#password", "Enter");
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("alert").textContent()).toBe(known);
    await page.context().close();
  });

  it("when an agent chooses ProConnect, then they sign in there and come back known by their address, a member of their establishment's collectivity with no role yet", async () => {
    const { page, code, verifier } = await signInPage();
    const button = page.getByRole("button", { name: "S’identifier avec ProConnect" });
    await button.focus();
    await page.keyboard.press("Enter");
    // The simulator's page: ProConnect's test agents; Camille works for the Ville de Rennes.
    await page.waitForURL(`${simulator.url}/**`);
    await page.getByRole("button", { name: /camille\.le-goff@ville-rennes\.fr/ }).click();
    const caller = await callerFrom(await code, verifier);
    expect(caller.email).toBe("camille.le-goff@ville-rennes.fr");
    expect(caller.memberships).toEqual({ "t-idb-rennes": [] });
    const store = await Database.connect(platform.env.MONGODB_URI, database, "identity-browser-test");
    try {
      const account = (await new AccountRepository(store).findByEmail("camille.le-goff@ville-rennes.fr"))!;
      expect(account).toMatchObject({ givenName: "Camille", usualName: "Le Goff", emailVerified: true, proconnect: { siret: "21350238800019" } });
      expect(account.passwordHash).toBeUndefined();
      // A second sign-in through ProConnect finds the same person.
      const again = await signInPage();
      await again.page.getByRole("button", { name: "S’identifier avec ProConnect" }).click();
      await again.page.waitForURL(`${simulator.url}/**`);
      await again.page.getByRole("button", { name: /camille\.le-goff@ville-rennes\.fr/ }).click();
      expect((await callerFrom(await again.code, again.verifier)).subject).toBe(account._id);
      await again.page.context().close();
    } finally {
      await store.close();
    }
    await page.context().close();
  });

  it("when a company registers on the page, then it confirms its address from the e-mail, and only then signs in, as a company user with its SIRET", async () => {
    const context = await browser.newContext({ locale: "fr-FR", ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const email = `nolwenn.le-bras-${Date.now()}@travaux-ouest.example`;
    await page.goto(`${identity.issuer}/inscription`);
    expect(await page.getAttribute("html", "lang")).toBe("fr");
    // A wrong SIRET: the error is announced, tied to its field, which gets the focus.
    await page.getByLabel("Raison sociale de l’entreprise").fill("Travaux de l’Ouest");
    await page.getByLabel("Numéro SIRET de l’établissement").fill("73282932000075");
    await page.getByLabel("Prénom").fill("Nolwenn");
    await page.getByLabel("Nom", { exact: true }).fill("Le Bras");
    await page.getByLabel("Adresse électronique professionnelle").fill(email);
    await page.getByLabel("Mot de passe", { exact: true }).fill("un-mot-de-passe-solide");
    await page.getByLabel("Confirmation du mot de passe").fill("un-mot-de-passe-solide");
    await page.keyboard.press("Enter");
    await page.getByRole("alert").waitFor();
    expect(await page.evaluate("document.activeElement?.id")).toBe("siret");
    expect(await page.getAttribute("#siret", "aria-invalid")).toBe("true");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("73282932000074");
    await page.getByLabel("Mot de passe", { exact: true }).fill("un-mot-de-passe-solide");
    await page.getByLabel("Confirmation du mot de passe").fill("un-mot-de-passe-solide");
    await page.getByRole("button", { name: "Inscrire l’entreprise" }).click();
    await page.getByRole("status").waitFor();
    expect(await page.getByRole("status").textContent()).toContain("un courriel vient de lui être envoyé");
    // Not confirmed yet: the sign-in is refused and says why.
    await expect(identity.token(email, "un-mot-de-passe-solide")).rejects.toThrow(/Confirmez d’abord votre adresse/);
    // The e-mail, read in the mail catcher; its link confirms the address, once.
    const message = await eventually("the confirmation e-mail", async () => {
      const caught = (await (await fetch(`${platform.env.MAIL_CATCHER_URL}/api/messages?to=${encodeURIComponent(email)}`)).json()) as { messages: { subject: string; text: string }[] };
      return caught.messages[0];
    });
    expect(message.subject).toBe("Confirmez votre adresse pour Mutualis");
    const link = /(https:\/\/\S+\/inscription\/confirmer\?jeton=\S+)/.exec(message.text)![1]!;
    await page.goto(link);
    expect(await page.getByRole("status").textContent()).toContain("Votre adresse est confirmée");
    await page.goto(link);
    expect(await page.getByRole("alert").textContent()).toContain("n’est pas valable");
    const caller = (await new CallerVerifier({ issuer: identity.issuer, audience: "mutualis-api", caFile: identity.caFile }).verify(`Bearer ${await identity.token(email, "un-mot-de-passe-solide")}`)) as UserCaller;
    expect(caller).toMatchObject({ email, memberships: {}, company: { siret: "73282932000074", name: "Travaux de l’Ouest" } });
    // Registering again with the same address answers the same page, and sends nothing more.
    const again = await identity.fetch(`${identity.issuer}/inscription`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ companyName: "Autre", siret: "73282932000074", givenName: "X", usualName: "Y", email, password: "encore-un-mot-de-passe", confirmation: "encore-un-mot-de-passe" }).toString(),
    });
    expect(again.status).toBe(202);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 300));
    expect(((await (await fetch(`${platform.env.MAIL_CATCHER_URL}/api/messages?to=${encodeURIComponent(email)}`)).json()) as { messages: unknown[] }).messages).toHaveLength(1);
    await context.close();
  });

  it("when a collectivity requires a second factor of its administrators, then an administrator sets up their application at the first sign-in and gives a code each time; a used or wrong code is refused; an agent is not asked", async () => {
    const passwordStep = async (email: string) => {
      const started = await signInPage();
      await started.page.fill("#email", email);
      await started.page.fill("#password", testPassword);
      await started.page.press("#password", "Enter");
      return started;
    };
    // First sign-in: the key to add to the application, then its code.
    const first = await passwordStep("informatique@t-idb-quimper.test");
    await first.page.getByRole("heading", { name: "Activer la validation en deux étapes" }).waitFor();
    const secret = (await first.page.locator("#cle").textContent())!.replaceAll(" ", "");
    expect(await first.page.evaluate("document.activeElement?.id")).toBe("code");
    const used = await currentCode(secret);
    await first.page.keyboard.type(used);
    await first.page.keyboard.press("Enter");
    expect((await callerFrom(await first.code, first.verifier)).memberships).toEqual({ "t-idb-quimper": ["agent", "administrateur"] });
    await first.page.context().close();
    // Next time: the code only; a wrong one, then the one just used, are refused; the next one is taken.
    const next = await passwordStep("informatique@t-idb-quimper.test");
    await next.page.getByRole("heading", { name: "Code de vérification" }).waitFor();
    const send = async (code: string) => {
      await next.page.fill("#code", code);
      await next.page.press("#code", "Enter");
    };
    await send("000000");
    await next.page.getByRole("alert").waitFor();
    expect(await next.page.getByRole("alert").textContent()).toContain("Ce code n’est pas le bon, ou a déjà servi");
    await send(used);
    await next.page.getByRole("alert").waitFor();
    expect(await next.page.getAttribute("#code", "aria-describedby")).toBe("erreur");
    await send(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    expect((await callerFrom(await next.code, next.verifier)).email).toBe("informatique@t-idb-quimper.test");
    await next.page.context().close();
    // An agent of the same collectivity signs in with their password alone.
    const agentOnly = await passwordStep("accueil@t-idb-quimper.test");
    expect((await callerFrom(await agentOnly.code, agentOnly.verifier)).email).toBe("accueil@t-idb-quimper.test");
    await agentOnly.page.context().close();
  });

  it("when an administrator of a collectivity requiring a second factor comes through ProConnect, then they still give their code", async () => {
    const metropole = await nc.request("platform.identity.tenants.enable", JSON.stringify({ collectivity: "t-idb-metropole", siren: "243500139", departement: "035", displayName: "Rennes Métropole (test)", settings: { administratorsTotp: true } }), { timeout: 5000 });
    expect(metropole.headers?.get("Nats-Service-Error-Code") ?? "").toBe("");
    // Gwenaëlle administers the métropole (granted earlier by another administrator).
    const store = await Database.connect(platform.env.MONGODB_URI, database, "identity-browser-test");
    try {
      await new AccountRepository(store).create({ kind: "agent", email: "gwenaelle.tanguy@rennesmetropole.fr", givenName: "Gwenaëlle", usualName: "Tanguy", emailVerified: true, memberships: [{ collectivity: "t-idb-metropole", roles: ["agent", "administrateur"] }] });
    } finally {
      await store.close();
    }
    const { page, code, verifier } = await signInPage();
    await page.getByRole("button", { name: "S’identifier avec ProConnect" }).click();
    await page.waitForURL(`${simulator.url}/**`);
    await page.getByRole("button", { name: /gwenaelle\.tanguy@rennesmetropole\.fr/ }).click();
    await page.getByRole("heading", { name: "Activer la validation en deux étapes" }).waitFor();
    const secret = (await page.locator("#cle").textContent())!.replaceAll(" ", "");
    await page.fill("#code", await currentCode(secret));
    await page.press("#code", "Enter");
    expect((await callerFrom(await code, verifier)).memberships).toEqual({ "t-idb-metropole": ["agent", "administrateur"] });
    await page.context().close();
  });

  it("when ProConnect's return is replayed or forged, then it is refused with a French page and nobody is signed in", async () => {
    const answer = await identity.fetch(`${identity.issuer}/proconnect/retour?code=forged&state=${randomBytes(32).toString("base64url")}`);
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain("Ce retour de ProConnect n’est plus valable");
  });
});
