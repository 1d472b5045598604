import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actesService, actesSettings } from "@mutualis/actes";
import { iplService, iplSettings } from "@mutualis/ipl";
import { prefectureSimulator, simulatorSettings } from "@mutualis/prefecture-simulator";
import { loadSettings, RunningService } from "@mutualis/service-kit";
import { launchChromium } from "../support/browser.ts";
import { bearer, startTestIdentity, type TestIdentity } from "../support/identity.ts";
import { eventually } from "../support/platform.ts";
import { serviceSettings, smallStreams, testServicesAccount } from "../support/services.ts";

const run = randomBytes(3).toString("hex");
const publicUrl = "https://actes.bretagne.test";
let client: NatsConnection;
let identity: TestIdentity;
let browser: Browser;
const running: RunningService[] = [];
let ipl: RunningService;
let startSimulator: (delayMs: number) => Promise<RunningService>;
let dispose: () => Promise<void>;

const deliberation = Buffer.from(`%PDF-1.7\n% délibération ${run}\n%%EOF\n`, "latin1");

interface ActView {
  id: string;
  status: string;
  identifier?: string;
  publication?: { url?: string; at?: string; skipped?: string };
}

async function call<T>(subject: string, body: unknown, token?: string): Promise<{ status: number; body: T }> {
  const [root, collectivity] = subject.split(".");
  const as = token ?? (root === "tenant" ? await identity.tokenFor(`agent@${collectivity}.example`, { [collectivity!]: ["agent"] }) : undefined);
  const reply = await client.request(subject, JSON.stringify(body), { timeout: 15_000, ...(as ? bearer(as) : {}) });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  return { status: code ? Number(code) : 200, body: reply.json<T>() };
}

function act(numeroInterne: string, objet: string, content = deliberation) {
  return {
    numeroInterne,
    nature: 1,
    classification: "7.1",
    objet,
    date: "2026-11-20",
    document: { fileName: "deliberation.pdf", mimeType: "application/pdf", contentBase64: content.toString("base64") },
  };
}

async function published(collectivity: string, id: string): Promise<ActView> {
  return eventually(`act ${id} to be published`, async () => {
    const { body } = await call<ActView>(`tenant.${collectivity}.actes.get`, { id });
    return body.publication ? body : undefined;
  }, 60_000);
}

const page = async (path: string) => {
  const res = await fetch(`${ipl.url}${path}`);
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
};

describe("the publication of acts: acknowledged acts online, their feed, their open data and the check of a file", () => {
  let rennesAct: ActView;

  beforeAll(async () => {
    const account = await testServicesAccount("platform-services-ipl-test");
    ({ client, dispose } = account);
    identity = await startTestIdentity(account.credsFile, `ipl_${run}_identity`, []);
    const common = { ...serviceSettings(account.credsFile), ...smallStreams };
    startSimulator = (delayMs: number) =>
      new RunningService(prefectureSimulator(), loadSettings(simulatorSettings, { ...common, SERVICE_NAME: "prefecture-simulator", MONGODB_DATABASE: `ipl_prefecture_${run}`, SIMULATOR_ACK_DELAY_MS: String(delayMs) })).start();
    running.push(await startSimulator(50));
    running.push(
      await new RunningService(
        actesService(),
        loadSettings(actesSettings, { ...common, ...identity.verifierSettings, SERVICE_NAME: "actes", MONGODB_DATABASE: `ipl_actes_${run}`, ACTES_STREAM_PREFIX: `ACTES_IPL_${run.toUpperCase()}`, ACTES_PUBLISH: "true" }),
      ).start(),
    );
    ipl = await new RunningService(iplService(), loadSettings(iplSettings, { ...common, ...identity.verifierSettings, SERVICE_NAME: "ipl", MONGODB_DATABASE: `ipl_${run}`, IPL_PUBLIC_URL: publicUrl })).start();
    running.push(ipl);
    const rennes = { collectivity: "rennes", siren: "213502388", departement: "035", displayName: "Ville de Rennes", authority: { departement: "035", arrondissement: 3, nature: "31", siret: "21350238800019" } };
    await call("platform.actes.tenants.enable", rennes);
    await call("platform.ipl.tenants.enable", rennes);
    // Brest transmits its acts but does not publish them on the platform.
    await call("platform.actes.tenants.enable", { collectivity: "brest", siren: "212900195", departement: "029", displayName: "Ville de Brest", authority: { departement: "029", arrondissement: 1, nature: "31" } });
    browser = await launchChromium();

    const submitted = await call<ActView>("tenant.rennes.actes.submit", act("D2026_101", "Budget primitif 2027 ; façade de l'hôtel de ville"));
    expect(submitted.status).toBe(200);
    rennesAct = await published("rennes", submitted.body.id);
  });

  afterAll(async () => {
    await browser?.close();
    for (const service of running.reverse()) await service.stop();
    await identity?.stop();
    await client?.close();
    await dispose?.();
  });

  it("when an act is acknowledged, then it is published: its page gives its dates, its enforceability, its file and the file's SHA-256, and the file comes back byte for byte", async () => {
    expect(rennesAct.status).toBe("acknowledged");
    expect(rennesAct.publication?.url).toBe(`${publicUrl}/rennes/actes/${rennesAct.id}`);
    const shown = await page(`/rennes/actes/${rennesAct.id}`);
    expect(shown.status).toBe(200);
    expect(shown.text).toContain("Budget primitif 2027 ; façade de l&#39;hôtel de ville");
    expect(shown.text).toContain(createHash("sha256").update(deliberation).digest("hex"));
    expect(shown.text).toContain(`identifiant ${rennesAct.identifier}`);
    expect(shown.text).toMatch(/Exécutoire le<\/dt><dd>[0-9]{1,2} [a-zéû]+ 2026/);
    expect(shown.text).toContain("Finances locales / Décisions budgétaires");
    const file = await fetch(`${ipl.url}/rennes/actes/${rennesAct.id}/fichier`);
    expect(file.headers.get("content-type")).toBe("application/pdf");
    expect(Buffer.from(await file.arrayBuffer()).equals(deliberation)).toBe(true);
  });

  it("when a collectivity does not publish on the platform, then its acknowledged act says why it was not published", async () => {
    const submitted = await call<ActView>("tenant.brest.actes.submit", act("D2026_201", "Tarifs municipaux 2027"));
    const brest = await published("brest", submitted.body.id);
    expect(brest.publication).toEqual({ skipped: "la collectivité brest ne publie pas ses actes sur la plateforme" });
    expect((await page(`/brest`)).status).toBe(404);
  });

  it("when a collectivity publishes its acts as soon as they are transmitted, then an act is online before its acknowledgement, not yet enforceable, and its page adds the acknowledgement when it comes", async () => {
    const vannes = { collectivity: "vannes", siren: "215602608", departement: "056", displayName: "Ville de Vannes", authority: { departement: "056", arrondissement: 0, nature: "31" } };
    expect((await call<{ message: string }>("platform.actes.tenants.enable", { ...vannes, settings: { publication: "jamais" } })).status).toBe(400);
    await call("platform.actes.tenants.enable", { ...vannes, settings: { publication: "transmitted" } });
    await call("platform.ipl.tenants.enable", vannes);
    // A prefecture slow to acknowledge, so the act is seen online before.
    await running[0]!.stop();
    running[0] = await startSimulator(3000);
    try {
      const submitted = await call<ActView>("tenant.vannes.actes.submit", act("D2026_301", "Règlement de voirie"));
      const early = await published("vannes", submitted.body.id);
      expect(early.status).toBe("transmitted");
      expect((await page(`/vannes/actes/${early.id}`)).text).toContain("Exécutoire le</dt><dd>pas encore");
      const acknowledged = await eventually("the publication to know the acknowledgement", async () => {
        const { body } = await call<ActView & { publication: { acknowledgedOn?: string } }>("tenant.vannes.actes.get", { id: early.id });
        return body.publication.acknowledgedOn ? body : undefined;
      }, 60_000);
      expect(acknowledged.status).toBe("acknowledged");
      const shown = (await page(`/vannes/actes/${early.id}`)).text;
      expect(shown).toMatch(/accusé de réception du [0-9]{1,2} [a-zéû]+ 2026/);
      expect(shown).not.toContain("Exécutoire le</dt><dd>pas encore");
    } finally {
      await running[0]!.stop();
      running[0] = await startSimulator(50);
    }
  });

  it("when the list is searched by text, nature and dates, then only the matching acts are shown", async () => {
    const other = await call<ActView>("tenant.rennes.actes.submit", { ...act("A2026_102", "Arrêté de circulation rue de Nantes"), nature: 2, classification: "6.1" });
    await published("rennes", other.body.id);
    const all = await page("/rennes");
    expect(all.text).toContain("2 actes publiés");
    const byText = await page(`/rennes?q=${encodeURIComponent("circulation")}`);
    expect(byText.text).toContain("1 acte publié pour cette recherche");
    expect(byText.text).toContain("Arrêté de circulation rue de Nantes");
    expect((await page("/rennes?nature=1")).text).not.toContain("Arrêté de circulation");
    expect((await page("/rennes?du=2026-11-21")).text).toContain("Aucun acte publié pour cette recherche");
  });

  it("when the feed and the open data are read, then the feed is well-formed Atom with the acts, and the délibérations follow the SCDL columns, per collectivity and for the region", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ipl-open-data-"));
    const feed = await page("/rennes/flux.atom");
    expect(feed.type).toContain("application/atom+xml");
    writeFileSync(join(dir, "flux.atom"), feed.text);
    const titles = execFileSync("xmllint", ["--xpath", "//*[local-name()='entry']/*[local-name()='title']/text()", join(dir, "flux.atom")], { encoding: "utf8" });
    expect(titles).toContain("Budget primitif 2027");
    const script = "import csv,sys,json; r=list(csv.DictReader(sys.stdin, delimiter=';')); print(json.dumps([[x['COLL_SIRET'], x['DELIB_ID'], x['DELIB_MATIERE_CODE'], x['DELIB_MATIERE_NOM'], x['PREF_ID'], x['DELIB_URL']] for x in r]))";
    for (const path of ["/rennes/donnees-ouvertes/deliberations.csv", "/donnees-ouvertes/deliberations.csv"]) {
      const csv = await page(path);
      expect(csv.text.split("\r\n")[0]).toBe("COLL_NOM;COLL_SIRET;DELIB_ID;DELIB_DATE;DELIB_MATIERE_CODE;DELIB_MATIERE_NOM;DELIB_OBJET;BUDGET_ANNEE;BUDGET_NOM;PREF_ID;PREF_DATE;VOTE_EFFECTIF;VOTE_REEL;VOTE_POUR;VOTE_CONTRE;VOTE_ABSTENTION;DELIB_URL");
      // Only délibérations: the arrêté is not in it.
      expect(JSON.parse(execFileSync("python3", ["-c", script], { input: csv.text, encoding: "utf8" }))).toEqual([
        ["21350238800019", "D2026_101", "7.1", "finances locales/décisions budgétaires", "SPREF0353", `${publicUrl}/rennes/actes/${rennesAct.id}`],
      ]);
    }
    const json = await fetch(`${ipl.url}/donnees-ouvertes/deliberations.json`);
    expect(((await json.json()) as { DELIB_ID: string }[]).map((r) => r.DELIB_ID)).toEqual(["D2026_101"]);
    // Vannes did not declare its SIRET: left out of the region's open data, and said so; its own export says why.
    expect(json.headers.get("x-mutualis-omitted")).toBe("vannes");
    const vannes = await page("/vannes/donnees-ouvertes/deliberations.csv");
    expect(vannes.status).toBe(409);
    expect(vannes.text).toContain("n'a pas déclaré le SIRET de son siège");
  });

  it("when a citizen drops the published file on the check page, then the browser hashes it and says it is the one published; a changed copy is not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ipl-check-"));
    writeFileSync(join(dir, "deliberation.pdf"), deliberation);
    writeFileSync(join(dir, "modifiee.pdf"), Buffer.concat([deliberation, Buffer.from(" ")]));
    const tab = await browser.newPage({ locale: "fr-FR" });
    await tab.goto(`${ipl.url}/verifier`);
    expect(await tab.getAttribute("html", "lang")).toBe("fr");
    await tab.getByLabel("Fichier à vérifier").setInputFiles(join(dir, "deliberation.pdf"));
    const result = tab.getByRole("status");
    await result.getByText("Ce fichier est celui publié").waitFor();
    expect(await result.getByRole("link", { name: /Budget primitif 2027/ }).getAttribute("href")).toBe(`/rennes/actes/${rennesAct.id}`);
    await tab.getByLabel("Fichier à vérifier").setInputFiles(join(dir, "modifiee.pdf"));
    await result.getByText(/Aucun acte publié n'a ce fichier/).waitFor();
    // Without the script, the digest typed in is checked by the server.
    await tab.goto(`${ipl.url}/verifier?empreinte=${createHash("sha256").update(deliberation).digest("hex")}`);
    expect(await tab.getByRole("status").textContent()).toContain("Ce fichier est celui publié");
    await tab.keyboard.press("Tab");
    expect(await tab.evaluate("document.activeElement?.textContent")).toBe("Aller au contenu");
    await tab.close();
  });

  it("when an administrator withdraws an act with a reason, then its page says so, its file is gone (410), and it leaves the feed and the open data; an agent may not", async () => {
    const agent = await identity.tokenFor("agent@rennes.example", { rennes: ["agent"] });
    expect((await call("tenant.rennes.ipl.withdraw", { id: rennesAct.id, reason: "erreur matérielle dans l'annexe" }, agent)).status).toBe(403);
    const admin = await identity.tokenFor("dgs@rennes.example", { rennes: ["administrateur"] });
    expect((await call("tenant.rennes.ipl.withdraw", { id: rennesAct.id, reason: "court" }, admin)).status).toBe(400);
    // Another collectivity's administrator does not even find it.
    const brestAdmin = await identity.tokenFor("dgs@brest.example", { brest: ["administrateur"] });
    expect((await call("tenant.brest.ipl.withdraw", { id: rennesAct.id, reason: "erreur matérielle dans l'annexe" }, brestAdmin)).status).toBe(403);
    const withdrawn = await call<{ withdrawn: { by: string; reason: string } }>("tenant.rennes.ipl.withdraw", { id: rennesAct.id, reason: "erreur matérielle dans l'annexe" }, admin);
    expect(withdrawn.body.withdrawn).toMatchObject({ by: "dgs@rennes.example", reason: "erreur matérielle dans l'annexe" });
    expect((await call("tenant.rennes.ipl.withdraw", { id: rennesAct.id, reason: "erreur matérielle dans l'annexe" }, admin)).status).toBe(409);
    expect((await page(`/rennes/actes/${rennesAct.id}`)).text).toContain("Acte retiré de la publication le");
    expect((await fetch(`${ipl.url}/rennes/actes/${rennesAct.id}/fichier`)).status).toBe(410);
    expect((await page("/rennes/flux.atom")).text).not.toContain("Budget primitif 2027");
    expect((await page("/rennes/donnees-ouvertes/deliberations.csv")).text).not.toContain("D2026_101");
    // The check still finds it, and says it was withdrawn.
    expect((await page(`/verifier?empreinte=${createHash("sha256").update(deliberation).digest("hex")}`)).text).toContain("(retiré le");
  });
});
