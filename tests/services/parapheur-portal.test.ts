import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentCode } from "@mutualis/identity";
import { parapheurService, parapheurSettings } from "@mutualis/parapheur";
import { portalService, portalSettings } from "@mutualis/portal";
import { letterPdf } from "@mutualis/prefecture-simulator";
import { loadSettings, RunningService } from "@mutualis/service-kit";
import { launchChromium, signInAtPortal } from "../support/browser.ts";
import { agent, bearer, reserveTestIdentity, startTestIdentity, testPassword, type TestIdentity } from "../support/identity.ts";
import { freePort, serviceSettings, startTestGateway, testServicesAccount } from "../support/services.ts";

const run = randomBytes(3).toString("hex");
const c = "t-parapheur";
let client: NatsConnection;
let identity: TestIdentity;
const running: RunningService[] = [];
let browser: Browser;
let portalUrl: string;
let dispose: () => Promise<void>;

const people = [
  agent(`admin@${c}.test`, { [c]: ["administrateur"] }),
  agent(`secretariat@${c}.test`, { [c]: ["secretaire"] }),
  agent(`gaelle.quere@${c}.test`, { [c]: ["agent"] }),
  agent(`anne.kervella@${c}.test`, { [c]: ["elu", "signataire"] }),
  agent(`loic.le-roux@${c}.test`, { [c]: ["elu", "signataire"] }),
];
const roles = Object.fromEntries(people.map((p) => [p.email, p.memberships![0]!.roles]));

async function call<T = Record<string, unknown>>(subject: string, body: unknown, as: string): Promise<{ status: number; body: T }> {
  const token = await identity.tokenFor(as, { [c]: roles[as]! });
  const reply = await client.request(`tenant.${c}.${subject}`, JSON.stringify(body), { timeout: 20_000, ...bearer(token) });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  return { status: code ? Number(code) : 200, body: reply.json<T>() };
}

/** The authenticator applications people set up during the tests, and the last time step each used. */
const authenticators = new Map<string, { secret: string; step: number }>();

/** The code a person's application shows for a time step not used yet (the identity accepts one step ahead). */
async function nextCode(email: string): Promise<string> {
  const known = authenticators.get(email)!;
  known.step = Math.max(known.step + 1, Math.floor(Date.now() / 30_000));
  const wait = (known.step - 1) * 30_000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 100));
  return currentCode(known.secret, known.step * 30);
}

const signIn = (email: string): Promise<Page> => signInAtPortal(browser, portalUrl, identity.issuer, email, testPassword, authenticators.has(email) ? () => nextCode(email) : undefined);

/** Sends a form by its button and waits for the page its answer is: the form's status. */
async function submit(page: Page, button: string, action: string): Promise<number> {
  const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith(action)), page.getByRole("button", { name: button }).click()]);
  await page.waitForLoadState("domcontentloaded");
  return answer.status();
}

const folder = (name: string) =>
  call<{ id: string }>(
    "parapheur.folders.create",
    { type: "arrete", subtype: "maire", name, desk: "secretariat", documents: [{ name: "arrete.pdf", mimeType: "application/pdf", contentBase64: letterPdf(name, ["Article 1 : la rue est fermée."]).toString("base64") }], start: true },
    `secretariat@${c}.test`,
  );

describe("the parapheur in the portal: a signer's desk, a visa, a signature confirmed by the second factor, a rejection, a delegation", () => {
  beforeAll(async () => {
    const account = await testServicesAccount("platform-services-parapheur-portal-test");
    ({ client, dispose } = account);
    // Two ports free now, and not the same one: the identity's and the portal's.
    const reserved = await reserveTestIdentity();
    let port = await freePort();
    while (port === reserved.port) port = await freePort();
    portalUrl = `http://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), "parapheur-portal-"));
    const secret = randomBytes(32).toString("base64url");
    writeFileSync(join(dir, "secret"), secret, { mode: 0o600 });
    writeFileSync(join(dir, "master.key"), randomBytes(32).toString("base64"), { mode: 0o600 });
    identity = await startTestIdentity(account.credsFile, `parapheur_portal_${run}_identity`, people, {}, reserved, [
      { client_id: "mutualis-portal", client_name: "Portail Mutualis", client_secret: secret, application_type: "web", token_endpoint_auth_method: "client_secret_basic", grant_types: ["authorization_code", "refresh_token"], redirect_uris: [`${portalUrl}/retour`], post_logout_redirect_uris: [`${portalUrl}/`], first_party: true },
    ]);
    const common = { ...serviceSettings(account.credsFile), ...identity.verifierSettings };
    running.push(
      await new RunningService(
        parapheurService(),
        loadSettings(parapheurSettings, { ...common, SERVICE_NAME: "parapheur", MONGODB_DATABASE: `parapheur_portal_${run}`, PARAPHEUR_MASTER_KEY_FILE: join(dir, "master.key"), PARAPHEUR_FILES_MAX_BYTES: String(32 * 2 ** 20) }),
      ).start(),
    );
    const gateway = await startTestGateway(account.credsFile, `parapheur_portal_${run}`, identity.verifierSettings);
    running.push(gateway);
    running.push(
      await new RunningService(
        portalService(),
        loadSettings(portalSettings, { ...common, SERVICE_NAME: "portal", MONGODB_DATABASE: `parapheur_portal_${run}_portal`, HTTP_PORT: String(port), PORTAL_PUBLIC_URL: portalUrl, PORTAL_CLIENT_SECRET_FILE: join(dir, "secret"), PORTAL_GATEWAY_URL: gateway.url }),
      ).start(),
    );
    await client.request("platform.parapheur.tenants.enable", JSON.stringify({ collectivity: c, siren: "213502388", departement: "035", displayName: "Ville de Test" }), { timeout: 10_000 });
    const admin = `admin@${c}.test`;
    for (const desk of [
      { id: "secretariat", name: "Secrétariat", owners: [`secretariat@${c}.test`] },
      { id: "dgs", name: "Direction générale", owners: [`gaelle.quere@${c}.test`] },
      { id: "adjoint", name: "Premier adjoint", owners: [`loic.le-roux@${c}.test`] },
      { id: "maire", name: "Maire", owners: [`anne.kervella@${c}.test`] },
    ]) {
      expect((await call("parapheur.desks.save", { desk }, admin)).status).toBe(200);
    }
    const type = { id: "arrete", name: "Arrêté", protocol: "NONE", signatureFormat: "PADES", subtypes: [{ id: "maire", name: "Arrêté du maire", circuit: [{ type: "VISA", desks: ["dgs"] }, { type: "SIGNATURE", desks: ["maire"] }] }] };
    expect((await call("parapheur.types.save", { type }, admin)).status).toBe(200);
    expect((await call("parapheur.certificates.issue", { email: `anne.kervella@${c}.test`, commonName: "Anne Kervella", title: "Maire" }, admin)).status).toBe(200);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const service of running.reverse()) await service.stop();
    await identity?.stop();
    await client?.close();
    await dispose?.();
  });

  it("when the general manager visas and the mayor signs with her authenticator's code, then the folder is finished and its signed PDF is valid for pdfsig", async () => {
    const { body } = await folder(`Arrêté de circulation ${run}`);
    const dgs = await signIn(`gaelle.quere@${c}.test`);
    await dgs.getByRole("link", { name: "Mon parapheur" }).click();
    await dgs.getByRole("heading", { level: 1, name: `Parapheur de ${c}` }).waitFor();
    const row = dgs.getByRole("table", { name: "Dossiers à traiter" }).getByRole("row", { name: new RegExp(`Arrêté de circulation ${run}`) });
    expect(await row.textContent()).toContain("À traiter");
    await row.getByRole("link").click();
    // The act opens in the browser's reader.
    const [reader] = await Promise.all([dgs.context().waitForEvent("page"), dgs.getByRole("link", { name: "arrete.pdf (s’ouvre dans un nouvel onglet)" }).click()]);
    await reader.waitForLoadState();
    expect(reader.url()).toMatch(/\/documents\/0$/);
    await reader.close();
    await dgs.getByLabel("Commentaire (facultatif)").fill("Vu, conforme.");
    await submit(dgs, "Viser le dossier", "/viser");
    expect(await dgs.getByRole("status").textContent()).toBe("Dossier visé.");
    expect(await dgs.getByRole("table", { name: "Historique" }).textContent()).toContain("Vu, conforme.");

    const mayor = await signIn(`anne.kervella@${c}.test`);
    await mayor.goto(`${portalUrl}/collectivites/${c}/parapheur/dossiers/${body.id}`);
    // No authenticator yet: she sets one up, then signs with its code.
    const setUp = async () => {
      expect(await submit(mayor, "Configurer mon application d’authentification", "/second-facteur")).toBe(200);
      return mayor.locator("#cle").textContent();
    };
    const key = await setUp();
    await mayor.getByLabel("Code de votre application d’authentification (6 chiffres)").fill("123456");
    await submit(mayor, "Signer le dossier", "/signer");
    expect(await mayor.getByRole("alert").textContent()).toMatch(/Le code n’a pas été accepté/);
    const secret = await setUp();
    expect(secret).not.toBe(key);
    authenticators.set(`anne.kervella@${c}.test`, { secret: secret!, step: Math.floor(Date.now() / 30_000) - 1 });
    await mayor.getByLabel("Code de votre application d’authentification (6 chiffres)").fill(await nextCode(`anne.kervella@${c}.test`));
    await submit(mayor, "Signer le dossier", "/signer");
    expect(await mayor.getByRole("status").textContent()).toBe("Dossier signé.");
    expect(await mayor.getByText("État :").textContent()).toContain("Terminé");
    const signed = await mayor.request.get(`${portalUrl}/collectivites/${c}/parapheur/dossiers/${body.id}/documents/0?version=signe`);
    expect(signed.headers()["content-type"]).toBe("application/pdf");
    const dir = mkdtempSync(join(tmpdir(), "parapheur-portal-pdf-"));
    writeFileSync(join(dir, "signe.pdf"), await signed.body());
    const report = execFileSync("pdfsig", ["signe.pdf"], { cwd: dir, encoding: "utf8" });
    expect(report).toContain("Signature Validation: Signature is Valid.");
    expect(report).toContain("Anne Kervella");
  });

  it("when the general manager rejects a folder with a reason, then it is rejected and its emitter reads why; without a reason the browser does not send it", async () => {
    const { body } = await folder(`Arrêté refusé ${run}`);
    const dgs = await signIn(`gaelle.quere@${c}.test`);
    await dgs.goto(`${portalUrl}/collectivites/${c}/parapheur/dossiers/${body.id}`);
    await dgs.getByRole("button", { name: "Rejeter le dossier" }).click();
    expect(await dgs.getByLabel("Motif du rejet").evaluate((e) => (e as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing)).toBe(true);
    await dgs.getByLabel("Motif du rejet").fill("Le périmètre de la rue est erroné.");
    await submit(dgs, "Rejeter le dossier", "/rejeter");
    expect(await dgs.getByRole("status").textContent()).toBe("Dossier rejeté.");
    const secretariat = await signIn(`secretariat@${c}.test`);
    await secretariat.getByRole("link", { name: "Mon parapheur" }).click();
    const row = secretariat.getByRole("table", { name: "Dossiers que vous avez émis" }).getByRole("row", { name: new RegExp(`Arrêté refusé ${run}`) });
    expect(await row.textContent()).toContain("Rejeté");
    await row.getByRole("link").click();
    expect(await secretariat.locator("p.error").textContent()).toBe("Rejeté par le bureau dgs : Le périmètre de la rue est erroné.");
    // Someone the folder does not concern reads nothing of it.
    const other = await signIn(`loic.le-roux@${c}.test`);
    const response = await other.goto(`${portalUrl}/collectivites/${c}/parapheur/dossiers/${body.id}`);
    expect(response?.status()).toBe(404);
  });

  it("when the mayor delegates her desk to the first deputy, then the delegation shows with its dates and the deputy finds her folders as delegated", async () => {
    const mayor = await signIn(`anne.kervella@${c}.test`);
    await mayor.goto(`${portalUrl}/collectivites/${c}/parapheur`);
    const today = new Date().toLocaleDateString("sv-SE", { timeZone: "Europe/Paris" });
    const week = new Date(Date.now() + 7 * 86_400_000).toLocaleDateString("sv-SE", { timeZone: "Europe/Paris" });
    await mayor.getByLabel("Déléguer au bureau (identifiant)").fill("adjoint");
    await mayor.getByLabel("Du (inclus)").fill(today);
    await mayor.getByLabel("Au (inclus)").fill(week);
    await mayor.getByRole("button", { name: "Enregistrer la délégation du bureau Maire" }).click();
    expect(await mayor.getByRole("status").textContent()).toBe("Délégation enregistrée.");
    expect(await mayor.getByText(/Délégation au bureau adjoint du/).textContent()).toMatch(/du \d{2}\/\d{2}\/\d{4} 00:00 au \d{2}\/\d{2}\/\d{4} 00:00/);

    const { body } = await folder(`Arrêté délégué ${run}`);
    await call("parapheur.folders.visa", { id: body.id }, `gaelle.quere@${c}.test`);
    const deputy = await signIn(`loic.le-roux@${c}.test`);
    await deputy.getByRole("link", { name: "Mon parapheur" }).click();
    const row = deputy.getByRole("table", { name: "Dossiers à traiter" }).getByRole("row", { name: new RegExp(`Arrêté délégué ${run}`) });
    expect(await row.textContent()).toContain("Par délégation");
    await mayor.getByRole("button", { name: "Mettre fin à la délégation du bureau Maire" }).click();
    expect(await mayor.getByRole("status").textContent()).toBe("Délégation terminée.");
  });
});
