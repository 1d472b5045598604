import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CustomObjectsApi, KubernetesObjectApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import { portalService, portalSettings } from "@mutualis/portal";
import { loadSettings, RunningService } from "@mutualis/service-kit";
import { agent, reserveTestIdentity, startTestIdentity, testPassword, type TestIdentity } from "../support/identity.ts";
import { launchChromium, signInAtPortal } from "../support/browser.ts";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { freePort, platformServicesCreds, serviceSettings, startTestGateway } from "../support/services.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
let operator: RunningOperator;
let identity: TestIdentity;
let gateway: RunningService;
let portal: RunningService;
let browser: Browser;
let portalUrl: string;

const people = [
  agent("maelle.le-bihan@t-portail.test", { "t-portail": ["agent", "administrateur"] }),
  agent("yann.guillou@t-portail.test", { "t-portail": ["agent"] }),
  { kind: "company" as const, email: "nolwenn@travaux-ouest.example", givenName: "Nolwenn", usualName: "Le Bras", company: { siret: "73282932000074", name: "Travaux de l’Ouest" } },
];

/** A person signs in at the portal, in a fresh browser. */
const signIn = (email: string): Promise<Page> => signInAtPortal(browser, portalUrl, identity.issuer, email, testPassword);

describe("the portal: people sign in with the identity service and work through the gateway", () => {
  beforeAll(async () => {
    operator = await startTestOperator();
    // The collectivity, with a service asked for: its members see it on their home.
    await KubernetesObjectApi.makeApiClient(kc).create(collectivityManifest({ name: "t-portail", siren: sirenFrom("21350061") }));
    await waitForReady(kc, "t-portail");
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: "mutualis.fr", version: "v1alpha1", plural: "serviceinstances", namespace: "coll-t-portail", body: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: "sesf" }, spec: { service: "sesf" } } });
    const creds = await platformServicesCreds();
    const port = await freePort();
    portalUrl = `http://127.0.0.1:${port}`;
    const secret = randomBytes(32).toString("base64url");
    const secretFile = join(mkdtempSync(join(tmpdir(), "portal-")), "secret");
    writeFileSync(secretFile, secret, { mode: 0o600 });
    // On the test platform's identity port: the API server trusts its tokens (the home lists the collectivity's services).
    identity = await startTestIdentity(creds, "portal_identity", people, {}, await reserveTestIdentity(platform.config.ports.identity), [
      { client_id: "mutualis-portal", client_name: "Portail Mutualis", client_secret: secret, application_type: "web", token_endpoint_auth_method: "client_secret_basic", grant_types: ["authorization_code", "refresh_token"], redirect_uris: [`${portalUrl}/retour`], post_logout_redirect_uris: [`${portalUrl}/`], first_party: true },
    ]);
    gateway = await startTestGateway(creds, "portal", identity.verifierSettings);
    // The API server reads a new issuer's discovery again every 10 s until it answers: wait for it to trust the tokens.
    const probe = await identity.tokenFor("maelle.le-bihan@t-portail.test", { "t-portail": ["agent", "administrateur"] });
    await eventually("the API server to trust the identity's tokens", async () => {
      const answer = await fetch(`${gateway.url}/api/v1/tenants/t-portail/service-instances`, { headers: { authorization: `Bearer ${probe}` } });
      return answer.status === 200 ? true : undefined;
    }, 60_000);
    portal = await new RunningService(
      portalService(),
      loadSettings(portalSettings, { ...serviceSettings(await creds.service("portal")), ...identity.verifierSettings, SERVICE_NAME: "portal", MONGODB_DATABASE: "portal_tests", HTTP_PORT: String(port), HTTP_INTERNAL_PORT: "0", PORTAL_PUBLIC_URL: portalUrl, PORTAL_CLIENT_SECRET_FILE: secretFile, PORTAL_GATEWAY_URL: gateway.url }),
    ).start();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await portal?.stop();
    await gateway?.stop();
    await identity?.stop();
    await deleteCollectivity(kc, "t-portail").catch(() => undefined);
    await waitForGone(kc, "t-portail").catch(() => undefined);
    await operator?.stop();
  });

  it("when an administrator signs in, then the portal shows their collectivity and roles, they grant a colleague a role through the gateway, and sign out of the portal and the identity", async () => {
    const page = await signIn("maelle.le-bihan@t-portail.test");
    expect(await page.getAttribute("html", "lang")).toBe("fr");
    const collectivities = page.getByRole("table", { name: "Vos collectivités" });
    const row = collectivities.getByRole("row", { name: /t-portail/ });
    expect(await row.textContent()).toContain("Agent, Administrateur");
    // The collectivity's services, read with the person's own token (every member may).
    expect(await row.getByRole("listitem").allTextContents()).toEqual([expect.stringMatching(/^Échange sécurisé de fichiers/)]);
    // The keyboard reaches the content first, then the members' page.
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Aller au contenu");
    await page.getByRole("link", { name: "Gérer les membres" }).click();
    await page.getByRole("heading", { name: "Membres de t-portail" }).waitFor();
    const yann = page.getByRole("row", { name: /yann\.guillou@t-portail\.test/ });
    await yann.getByRole("checkbox", { name: "Signataire" }).check();
    await yann.getByRole("button", { name: /Enregistrer les rôles de/ }).click();
    expect(await page.getByRole("status").textContent()).toBe("Rôles de yann.guillou@t-portail.test enregistrés.");
    expect(await page.getByRole("row", { name: /yann\.guillou@t-portail\.test/ }).getByRole("checkbox", { name: "Signataire" }).isChecked()).toBe(true);
    // Yann's next token carries it.
    const token = await identity.token("yann.guillou@t-portail.test");
    expect(JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")).memberships).toEqual({ "t-portail": ["agent", "signataire"] });
    // Removing the last administrator is refused, with the reason.
    const self = page.getByRole("row", { name: /maelle\.le-bihan@t-portail\.test/ });
    await self.getByRole("checkbox", { name: "Administrateur" }).uncheck();
    await self.getByRole("button", { name: /Enregistrer les rôles de/ }).click();
    expect(await page.getByRole("alert").textContent()).toBe("La collectivité doit garder au moins un administrateur.");
    // Signing out ends the identity's session too: the next sign-in asks for the password again.
    await page.getByRole("button", { name: "Se déconnecter" }).click();
    await page.waitForURL(`${identity.issuer}/**`);
    const confirm = page.getByRole("button", { name: /Se déconnecter|Oui/ });
    if (await confirm.count()) await confirm.first().click();
    await page.waitForURL(`${portalUrl}/`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Bienvenue sur Mutualis");
    await page.getByRole("button", { name: "Se connecter" }).click();
    await page.waitForURL(`${identity.issuer}/**`);
    expect(await page.getByLabel("Mot de passe").count()).toBe(1);
    await page.context().close();
  });

  it("when an agent or a company user signs in, then each sees their own home, and the members' page refuses the agent", async () => {
    const agentPage = await signIn("yann.guillou@t-portail.test");
    expect(await agentPage.getByRole("link", { name: "Gérer les membres" }).count()).toBe(0);
    expect(await agentPage.getByRole("listitem").allTextContents()).toEqual([expect.stringMatching(/^Échange sécurisé de fichiers/)]);
    await agentPage.goto(`${portalUrl}/collectivites/t-portail/membres`);
    expect(await agentPage.getByRole("heading", { level: 1 }).textContent()).toBe("Accès refusé");
    await agentPage.context().close();
    const companyPage = await signIn("nolwenn@travaux-ouest.example");
    expect(await companyPage.getByRole("heading", { name: "Votre entreprise" }).count()).toBe(1);
    expect(await companyPage.textContent("main")).toContain("Travaux de l’Ouest — SIRET 73282932000074");
    await companyPage.context().close();
  });

  it("when someone comes without a session, then the portal offers to sign in, and a forged return is refused", async () => {
    const answer = await fetch(`${portalUrl}/`);
    expect(await answer.text()).toContain("Se connecter");
    expect((await fetch(`${portalUrl}/retour?code=forged&state=${randomBytes(16).toString("hex")}`)).status).toBe(400);
    expect((await fetch(`${portalUrl}/collectivites/t-portail/membres`, { redirect: "manual" })).headers.get("location")).toBe("/connexion");
  });
});
