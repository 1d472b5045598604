import { NotFound, type Logger, type ServiceDefinition } from "@mutualis/service-kit";
import { buildReport, collectivitiesOf, indicators, sortRows, toCsv, type Report } from "./indicators.ts";
import { EventCounts } from "./events.ts";
import { collectivityPage, overviewPage } from "./pages.ts";
import { PrometheusClient, type Sample } from "./prometheus.ts";
import type { ObservatorySettings } from "./settings.ts";

/**
 * Reads every indicator: the exact counts from the business events, the others from Prometheus;
 * per collectivity, per category of collectivity and for the region. An indicator that cannot be
 * read is reported unavailable (and logged), the others shown: only the list of collectivities is
 * needed for a page at all.
 */
export async function readReport(
  prometheus: PrometheusClient,
  counts: Pick<EventCounts, "totals">,
  settings: Pick<ObservatorySettings, "OBSERVATORY_REGION" | "OBSERVATORY_WINDOW_DAYS">,
  log?: Pick<Logger, "warn">,
): Promise<Report> {
  const days = settings.OBSERVATORY_WINDOW_DAYS;
  const now = new Date();
  const queried = indicators.filter((i) => i.query);
  const unavailable = new Set<string>();
  const failed = (keys: string[]) => (error: unknown) => {
    for (const key of keys) unavailable.add(key);
    log?.warn({ indicators: keys, reason: (error as Error).message }, "indicators unavailable: the page shows the others");
    return undefined;
  };
  const [info, totals, ...answers] = await Promise.all([
    prometheus.query("max by (collectivity, display_name, category, departement, zone) (mutualis_collectivity_info)"),
    counts.totals(days).catch(failed(indicators.filter((i) => i.counted).map((i) => i.key))),
    ...queried.map((i) =>
      Promise.all([prometheus.query(i.query!("collectivity", days)), prometheus.query(i.query!("", days)), prometheus.query(i.query!("category", days))]).catch(failed([i.key])),
    ),
  ]);
  const perCollectivity = new Map<string, Sample[]>();
  const regional = new Map<string, Sample[]>();
  const perCategory = new Map<string, Sample[]>();
  queried.forEach((indicator, n) => {
    const answer = answers[n];
    if (!answer) return;
    perCollectivity.set(indicator.key, answer[0]);
    regional.set(indicator.key, answer[1]);
    perCategory.set(indicator.key, answer[2]);
  });
  return buildReport({
    region: settings.OBSERVATORY_REGION,
    windowDays: days,
    collectivities: collectivitiesOf(info),
    perCollectivity,
    regional,
    perCategory,
    totals: totals ?? new Map(),
    unavailable,
    now,
  });
}

/**
 * The observatory: the regional overview, a page per collectivity with its curves, and the
 * exports (CSV, JSON), read at each request from the events it keeps and from Prometheus.
 */
export function observatoryService(): ServiceDefinition<ObservatorySettings> {
  let counts: EventCounts;
  return {
    description: "Observatory of dematerialisation: indicators per collectivity and for the region",
    async onStart(context) {
      counts = new EventCounts(context.database, context.log);
      await counts.start(context.nats, context.settings.NATS_STREAM_REPLICAS);
    },
    async onStop() {
      await counts.stop();
    },
    routes(app, context) {
      const prometheus = new PrometheusClient(context.settings.OBSERVATORY_PROMETHEUS_URL.replace(/\/$/, ""));
      const report = () => readReport(prometheus, counts, context.settings, context.log);
      app.get("/", async (req, res) => {
        const read = await report();
        const key = typeof req.query.tri === "string" && req.query.tri !== "nom" ? req.query.tri : undefined;
        const descending = req.query.ordre === "desc";
        res.type("html").set("cache-control", "no-store").send(overviewPage(read, sortRows(read.collectivities, key, descending), key, descending));
      });
      app.get("/collectivites/:name", async (req, res) => {
        const read = await report();
        const row = read.collectivities.find((r) => r.name === req.params.name);
        if (!row) throw new NotFound(`aucune collectivité ${req.params.name} sur la plateforme`);
        // Running totals, a point a day over the window: a curve that climbs faster is a
        // collectivity doing more online.
        const since = new Date(Date.now() - (context.settings.OBSERVATORY_WINDOW_DAYS - 1) * 86_400_000);
        const [acts, exchanges] = await Promise.all([counts.series(row.name, ["actes.submitted"], since), counts.series(row.name, ["sesf.bytes_uploaded"], since)]);
        res.type("html").set("cache-control", "no-store").send(collectivityPage(read, row, acts, exchanges));
      });
      app.get("/export.csv", async (_req, res) => {
        res.type("text/csv; charset=utf-8").set("content-disposition", 'attachment; filename="observatoire-dematerialisation.csv"').send(toCsv(await report()));
      });
      app.get("/export.json", async (_req, res) => {
        res.set("content-disposition", 'attachment; filename="observatoire-dematerialisation.json"').json(await report());
      });
    },
  };
}
