import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CustomObjectsApi, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import { layout } from "@mutualis/local-platform";
import { EventCounts, observatoryService, observatorySettings, type Report } from "@mutualis/observatory";
import type { RunningOperator } from "@mutualis/operator";
import { Database, eventStream, loadSettings, RunningService } from "@mutualis/service-kit";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { platformServicesCreds, serviceSettings, startSharedActes, startTestSesf, type PlatformCreds } from "../support/services.ts";
import { bearer, startTestIdentity, type TestIdentity } from "../support/identity.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const targetsFile = join(layout(platform.config).prometheus, "targets", "observatory-test.json");
const screenshots = join(import.meta.dirname, "../../.local/test-results/screenshots");
const uploaded = 5000;
let operator: RunningOperator;
let services: RunningService[] = [];
let observatory: RunningService;
let nc: NatsConnection;
let credsFile: PlatformCreds;
let identity: TestIdentity;
let browser: Browser;
let uploadUrl: string;

/** A request as an agent of the collectivity, signed in through the identity service. */
async function call<T>(subject: string, body: unknown): Promise<T> {
  const agent = await identity.tokenFor("agent@plougastel.example", { "t-obs": ["agent"] });
  const reply = await nc.request(subject, JSON.stringify(body), { timeout: 10_000, ...bearer(agent) });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  if (code) throw new Error(`${subject} answered ${code}: ${reply.string()}`);
  return reply.json<T>();
}

async function prometheus(expr: string): Promise<number | undefined> {
  const answer = (await (await fetch(`${platform.env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: { value: [number, string] }[] } };
  const value = answer.data.result[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

async function exported(): Promise<Report> {
  return (await (await fetch(`${observatory.url}/export.json`)).json()) as Report;
}

async function startObservatory(creds: PlatformCreds): Promise<RunningService> {
  return new RunningService(
    observatoryService(),
    loadSettings(observatorySettings, { ...serviceSettings(await creds.service("observatory")), SERVICE_NAME: "observatory", MONGODB_DATABASE: "obstest_observatory", OBSERVATORY_PROMETHEUS_URL: platform.env.PROMETHEUS_URL }),
  ).start();
}

async function instance(service: string): Promise<void> {
  await custom.createNamespacedCustomObject({ group: "mutualis.fr", version: "v1alpha1", plural: "serviceinstances", namespace: "coll-t-obs", body: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: service }, spec: { service } } });
  await eventually(`the ${service} instance to be Ready`, async () => {
    const si = (await custom.getNamespacedCustomObject({ group: "mutualis.fr", version: "v1alpha1", plural: "serviceinstances", namespace: "coll-t-obs", name: service })) as { status?: { conditions?: { type: string; status: string }[] } };
    return si.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True");
  });
}

describe("the observatory: how dematerialised each collectivity is", () => {
  beforeAll(async () => {
    operator = await startTestOperator();
    const creds = await platformServicesCreds();
    credsFile = creds;
    identity = await startTestIdentity(creds, "obstest_identity", []);
    services = await startSharedActes(creds, "obstest", identity.verifierSettings);
    const sesf = await startTestSesf(creds, "obstest_sesf", identity.verifierSettings);
    services.push(sesf.service);
    // Prometheus scrapes the operator and the services as it does on the platform (file discovery).
    const address = (url: string) => new URL(url).host;
    mkdirSync(join(layout(platform.config).prometheus, "targets"), { recursive: true });
    writeFileSync(targetsFile, JSON.stringify([{ targets: [`127.0.0.1:${operator.manager.port}`, ...services.map((s) => address(s.internalUrl))], labels: { platform: "observatory-test" } }]));

    await KubernetesObjectApi.makeApiClient(kc).create(collectivityManifest({ name: "t-obs", siren: sirenFrom("21290077"), displayName: "Commune de Plougastel (test)" }));
    await waitForReady(kc, "t-obs");
    await instance("actes");
    await instance("sesf");
    nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(readFileSync(creds.client)) });

    // The collectivity's agents at work: an act sent to the prefecture, a file shared.
    const pdf = Buffer.from("%PDF-1.7\n% délibération\n%%EOF\n").toString("base64");
    const act = await call<{ id: string }>("tenant.t-obs.actes.submit", {
      numeroInterne: "OBS_2026_001",
      nature: 1,
      classification: "7.1",
      objet: "Budget primitif 2027",
      date: "2026-11-20",
      document: { fileName: "deliberation.pdf", mimeType: "application/pdf", contentBase64: pdf },
    });
    await eventually("the act to be acknowledged", async () => ((await call<{ status: string }>("tenant.t-obs.actes.get", { id: act.id })).status === "acknowledged" ? true : undefined), 60_000);
    const share = await call<{ uploadUrl: string }>("tenant.t-obs.sesf.shares.create", { recipients: [{ email: "titulaire@entreprise.example" }] });
    uploadUrl = share.uploadUrl;
    const put = await fetch(`${share.uploadUrl}/files/plans.pdf`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: Buffer.alloc(uploaded, 0x25) });
    expect(put.status).toBe(201);
    // A guest invited to send a file: its counter and the shares' differ by their name only.
    await call("tenant.t-obs.sesf.vouchers.create", { description: "Offre", agent: { email: "agent@plougastel.example" }, guest: { email: "titulaire@entreprise.example" }, voucherDays: 3, expiryDays: 10 });

    await eventually("Prometheus to have scraped the collectivity's activity", async () => {
      const acknowledged = await prometheus('sum(mutualis_actes_acknowledged_total{collectivity="t-obs"})');
      const bytes = await prometheus('sum(mutualis_sesf_bytes_uploaded_total{collectivity="t-obs"})');
      const ready = await prometheus('count(max by (service) (mutualis_service_instances{collectivity="t-obs", ready="true"}))');
      const vouchers = await prometheus('sum(mutualis_sesf_vouchers_created_total{collectivity="t-obs"})');
      return acknowledged === 1 && bytes === uploaded && ready === 2 && vouchers === 1 ? true : undefined;
    }, 90_000);

    observatory = await startObservatory(creds);
    // The observatory counts the services' events: it has read them once its counts are these.
    await eventually("the observatory to have counted the collectivity's events", async () => {
      const row = (await exported()).collectivities.find((c) => c.name === "t-obs");
      const v = row?.values;
      return v?.actesTransmis === 1 && v.partActesAcquittes === 1 && v.volumeEchanges === uploaded && v.partagesSecurises === 2 ? true : undefined;
    }, 60_000);
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
    mkdirSync(screenshots, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    rmSync(targetsFile, { force: true });
    await browser?.close();
    await observatory?.stop();
    await nc?.close();
    await deleteCollectivity(kc, "t-obs").catch(() => undefined);
    await waitForGone(kc, "t-obs").catch(() => undefined);
    for (const service of services.reverse()) await service.stop();
    await identity?.stop();
    await operator?.stop();
  });

  it("when the data are exported as JSON, then the collectivity's indicators are those of its activity, and unmeasured ones have no value", async () => {
    const report = (await (await fetch(`${observatory.url}/export.json`)).json()) as Report;
    const row = report.collectivities.find((c) => c.name === "t-obs")!;
    expect(row).toMatchObject({ displayName: "Commune de Plougastel (test)", category: "commune", departement: "029" });
    expect(row.values).toMatchObject({ actesTransmis: 1, partActesAcquittes: 1, volumeEchanges: uploaded, partagesSecurises: 2, servicesActifs: 2, partFacturesElectroniques: null, utilisateursActifsSso: 1 });
    expect(row.values.delaiAccuseMedian).toBeGreaterThanOrEqual(0);
    expect(row.values.delaiAccuseMedian).toBeLessThanOrEqual(5);
    expect(report.indicators.find((i) => i.key === "marchesEnLigne")).toMatchObject({ measured: false, notMeasured: expect.stringContaining("pas encore") });
    expect(report.regionValues.actesTransmis).toBeGreaterThanOrEqual(1);
    // Its category (communes) counts its act among those of every commune of the platform.
    const communes = report.categories.find((c) => c.category === "commune")!;
    expect(communes).toMatchObject({ label: "Communes" });
    expect(communes.collectivities).toBeGreaterThanOrEqual(1);
    expect(communes.values.actesTransmis).toBeGreaterThanOrEqual(1);
    expect(communes.values.partagesSecurises).toBeGreaterThanOrEqual(2);
    expect(communes.values.partFacturesElectroniques).toBeNull();
  });

  it("when the observatory loses its place and reads every event again, then each still counts once, and a message that is not an event is not counted", async () => {
    // Something else on the events' subjects: kept out of the counts.
    await jetstream(nc).publish("events.t-obs.actes.submitted", "not an event");
    await observatory.stop();
    const mongo = await new MongoClient(platform.env.MONGODB_URI).connect();
    try {
      await mongo.db("obstest_observatory").collection("progress").deleteMany({});
    } finally {
      await mongo.close();
    }
    observatory = await startObservatory(credsFile);
    const last = (await (await jetstreamManager(nc)).streams.info(eventStream.name)).state.last_seq;
    await eventually("the observatory to have read the stream again", async () => {
      const mongo = await new MongoClient(platform.env.MONGODB_URI).connect();
      try {
        const progress = await mongo.db("obstest_observatory").collection<{ _id: string; seq: number }>("progress").findOne({ _id: "events" });
        return (progress?.seq ?? 0) >= last ? true : undefined;
      } finally {
        await mongo.close();
      }
    });
    const row = (await exported()).collectivities.find((c) => c.name === "t-obs")!;
    // The agent who did all this signed in once: one active user of the identity service.
    expect(row.values).toMatchObject({ actesTransmis: 1, partActesAcquittes: 1, volumeEchanges: uploaded, partagesSecurises: 2, utilisateursActifsSso: 1 });

    // Two replicas reading the whole stream again at once, into the same database: still once each.
    const database = await Database.connect(platform.env.MONGODB_URI, "obstest_observatory", "observatory-test");
    const replicas = [new EventCounts(database, observatory.log), new EventCounts(database, observatory.log)];
    try {
      await database.collection("progress").deleteMany({});
      await Promise.all(replicas.map((r) => r.start(nc)));
      await eventually("both replicas to have read the stream", async () => (replicas.every((r) => r.position >= last) ? true : undefined));
      const totals = (await replicas[0]!.totals(1)).get("t-obs");
      // The agent's sign-in is an event of the identity service too, counted once a day per person.
      expect(totals).toEqual({ "actes.submitted": 1, "actes.acknowledged": 1, "sesf.bytes_uploaded": uploaded, "sesf.share_created": 1, "sesf.voucher_created": 1, "identity.signed_in_password": 1 });
    } finally {
      for (const replica of replicas) await replica.stop();
      await database.close();
    }
  });

  it("when an official opens the overview in a browser, then the region and the collectivity are shown, the table sorts, and the keyboard reaches the content", async () => {
    const page = await browser.newPage({ locale: "fr-FR" });
    await page.goto(observatory.url);
    expect(await page.getAttribute("html", "lang")).toBe("fr");
    expect(await page.textContent("h1")).toBe("La dématérialisation en Bretagne");
    const byCategory = page.getByRole("table", { name: /^Par catégorie/ });
    expect(await byCategory.getByRole("rowheader", { name: "Communes" }).count()).toBe(1);
    const collectivities = page.getByRole("table", { name: /collectivités?, sur 30 jours/ });
    expect(await collectivities.count()).toBe(1);
    const row = page.locator("tr", { has: page.getByRole("link", { name: "Commune de Plougastel (test)" }) });
    expect(await row.locator("td").allTextContents()).toEqual(expect.arrayContaining(["Commune de Plougastel (test)", "commune", "1", "100\u00a0%", "5 Ko", "2"]));
    // Invoices, procurement (twice) and the share of acts teletransmitted: not measured yet; the SSO users are.
    expect(await page.getByText("Non mesuré").count()).toBe(4);
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Aller au contenu");
    await page.screenshot({ path: join(screenshots, "observatoire-vue-regionale.png"), fullPage: true });

    await page.getByRole("link", { name: /^Actes télétransmis/ }).click();
    expect(page.url()).toContain("tri=actesTransmis&ordre=desc");
    expect(await page.getByRole("table", { name: /collectivités?, sur 30 jours/ }).getByRole("columnheader", { name: /Actes télétransmis/ }).getAttribute("aria-sort")).toBe("descending");
    await page.close();
  });

  it("when the collectivity's page is opened, then its indicators and its time series are drawn, with their values as text", async () => {
    const page = await browser.newPage({ locale: "fr-FR" });
    await page.goto(observatory.url);
    await page.getByRole("link", { name: "Commune de Plougastel (test)" }).click();
    expect(await page.textContent("h1")).toBe("Commune de Plougastel (test)");
    const acts = page.locator('svg[aria-labelledby^="serie-actes"]');
    expect(await acts.locator("path").getAttribute("d")).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)*$/);
    expect(await acts.locator("desc").textContent()).toMatch(/^Dernière valeur : 1, le /);
    expect(await page.locator('svg[aria-labelledby^="serie-echanges"] desc').textContent()).toMatch(/^Dernière valeur : 5 Ko, le /);
    await page.screenshot({ path: join(screenshots, "observatoire-collectivite.png"), fullPage: true });
    await page.close();
  });

  it("when the table is downloaded as CSV, then the file holds the collectivity's row", async () => {
    const page = await browser.newPage({ acceptDownloads: true });
    await page.goto(observatory.url);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "le tableau (CSV)" }).click()]);
    expect(download.suggestedFilename()).toBe("observatoire-dematerialisation.csv");
    const csv = readFileSync((await download.path())!, "utf8");
    expect(csv).toContain("t-obs;Commune de Plougastel (test);commune;029;1;1;");
    await page.close();
  });

  // The monitoring team's view: the chart's Grafana dashboards, drawn by the viewer Prometheus
  // serves beside its own UI, from what Prometheus scraped of the activity above.
  it("when the monitoring team opens the chart's dashboards in Prometheus, then every panel of both draws data", async () => {
    // Work going on while the team looks: the latency panels are quantiles of rates, which a
    // quiet minute has none of. Agents' requests, a page of the share, reconciles of the tenant.
    const objects = KubernetesObjectApi.makeApiClient(kc);
    for (let i = 0; i < 3; i++) {
      await call("tenant.t-obs.actes.list", {});
      await fetch(uploadUrl);
      const touch = { apiVersion: "mutualis.fr/v1alpha1", kind: "Collectivity", metadata: { name: "t-obs", annotations: { "test.mutualis.fr/looked-at": String(i) } } };
      await objects.patch(touch as KubernetesObject, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
      await new Promise((resolve) => setTimeout(resolve, 6_000));
    }
    await eventually("Prometheus to have scraped the latest requests", async () => {
      const latest = await prometheus('sum(increase(mutualis_tenant_request_duration_seconds_count{collectivity="t-obs"}[1m]))');
      return latest !== undefined && latest > 0 ? true : undefined;
    });
    const page = await browser.newPage({ locale: "fr-FR" });
    const dashboards = [
      ["mutualis-platform", "Mutualis — platform health"],
      ["mutualis-tenant", "Mutualis — per collectivity"],
    ] as const;
    for (const [uid, title] of dashboards) {
      await page.goto(`${platform.env.PROMETHEUS_URL}/user/?dashboard=${uid}&var-collectivity=t-obs`);
      await page.waitForFunction(`document.querySelectorAll("section.panel").length > 0 && !document.querySelector('section.panel[data-state="loading"]')`, undefined, { timeout: 30_000 });
      expect(await page.textContent("h1")).toBe(title);
      const panels = [];
      for (const section of await page.locator("section.panel").all()) {
        panels.push({ title: await section.locator("h2").textContent(), state: await section.getAttribute("data-state"), text: (await section.locator(".error, .empty").allTextContents()).join(" ") });
      }
      const expected = JSON.parse(readFileSync(join(import.meta.dirname, `../../charts/mutualis/dashboards/${uid}.json`), "utf8")) as { panels: { type: string; title: string }[] };
      expect(panels.map((p) => p.title)).toEqual(expected.panels.filter((p) => p.type !== "row").map((p) => p.title));
      expect(panels.filter((p) => p.state !== "data")).toEqual([]);
      // A time series panel draws its curves and names them; a stat panel writes its value.
      expect(await page.locator('section.panel[data-type="timeseries"] svg :is(polyline, circle)').count()).toBeGreaterThan(0);
      expect(await page.locator('section.panel[data-type="stat"] .stat').count()).toBe(expected.panels.filter((p) => p.type === "stat").length);
      await page.screenshot({ path: join(screenshots, `tableau-de-bord-${uid}.png`), fullPage: true });
    }
    // The collectivity chosen is the one whose activity the tenant dashboard drew.
    expect(await page.locator("#var-collectivity").inputValue()).toBe("t-obs");
    expect(await page.locator('section.panel:has(h2:text-is("Business activity")) ul.legend').textContent()).toContain("mutualis_actes_submitted_total");
    await page.close();
  });

  it("when someone opens Prometheus's own web UI, then it is built in, answers a query, and links to the dashboards", async () => {
    const page = await browser.newPage({ locale: "fr-FR" });
    const answer = await page.goto(`${platform.env.PROMETHEUS_URL}/query`);
    expect(answer?.status()).toBe(200);
    expect(await page.title()).toContain("Prometheus");
    await page.getByRole("textbox").first().fill('up{job="kube-apiserver"}');
    await page.getByRole("button", { name: "Execute" }).click();
    await page.getByText('job="kube-apiserver"').first().waitFor({ timeout: 15_000 });
    expect(await page.locator('a[href$="/user/index.html"]').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(screenshots, "prometheus-requetes.png"), fullPage: true });
    await page.close();
  });
});
