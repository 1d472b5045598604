import { NotFound, type Logger, type ServiceDefinition } from "@mutualis/service-kit";
import { buildReport, collectivitiesOf, indicators, sortRows, toCsv, type Report } from "./indicators.ts";
import { collectivityPage, overviewPage } from "./pages.ts";
import { PrometheusClient, type Sample } from "./prometheus.ts";
import type { ObservatorySettings } from "./settings.ts";

/**
 * Reads every indicator from Prometheus, per collectivity, per category of collectivity and for the
 * region. An indicator whose queries fail is reported unavailable (and logged), the others shown:
 * only the list of collectivities is needed for a page at all.
 */
export async function readReport(
  prometheus: PrometheusClient,
  settings: Pick<ObservatorySettings, "OBSERVATORY_REGION" | "OBSERVATORY_WINDOW_DAYS">,
  log?: Pick<Logger, "warn">,
): Promise<Report> {
  const days = settings.OBSERVATORY_WINDOW_DAYS;
  const measured = indicators.filter((i) => i.query);
  const [info, ...answers] = await Promise.all([
    prometheus.query("max by (collectivity, display_name, category, departement, zone) (mutualis_collectivity_info)"),
    ...measured.map((i) =>
      Promise.all([prometheus.query(i.query!("collectivity", days)), prometheus.query(i.query!("", days)), prometheus.query(i.query!("category", days))]).catch((error: unknown) => {
        log?.warn({ indicator: i.key, reason: (error as Error).message }, "an indicator is unavailable: the page shows the others");
        return undefined;
      }),
    ),
  ]);
  const perCollectivity = new Map<string, Sample[]>();
  const regional = new Map<string, Sample[]>();
  const perCategory = new Map<string, Sample[]>();
  const unavailable = new Set<string>();
  measured.forEach((indicator, n) => {
    const answer = answers[n] as Sample[][] | undefined;
    if (!answer) return void unavailable.add(indicator.key);
    perCollectivity.set(indicator.key, answer[0]!);
    regional.set(indicator.key, answer[1]!);
    perCategory.set(indicator.key, answer[2]!);
  });
  return buildReport(settings.OBSERVATORY_REGION, days, collectivitiesOf(info as Sample[]), perCollectivity, regional, perCategory, new Date(), unavailable);
}

/**
 * The observatory: the regional overview, a page per collectivity with its time series, and
 * the exports (CSV, JSON), all read from Prometheus at each request.
 */
export function observatoryService(): ServiceDefinition<ObservatorySettings> {
  return {
    description: "Observatory of dematerialisation: indicators per collectivity and for the region",
    routes(app, context) {
      const prometheus = new PrometheusClient(context.settings.OBSERVATORY_PROMETHEUS_URL.replace(/\/$/, ""));
      app.get("/", async (req, res) => {
        const report = await readReport(prometheus, context.settings, context.log);
        const key = typeof req.query.tri === "string" && req.query.tri !== "nom" ? req.query.tri : undefined;
        const descending = req.query.ordre === "desc";
        res.type("html").set("cache-control", "no-store").send(overviewPage(report, sortRows(report.collectivities, key, descending), key, descending));
      });
      app.get("/collectivites/:name", async (req, res) => {
        const report = await readReport(prometheus, context.settings, context.log);
        const row = report.collectivities.find((r) => r.name === req.params.name);
        if (!row) throw new NotFound(`aucune collectivité ${req.params.name} sur la plateforme`);
        const end = new Date();
        const start = new Date(end.getTime() - 86_400_000);
        const selector = `{collectivity="${row.name}"}`;
        // Running totals (every series' last value, so a restarted service's earlier count stays):
        // a curve that climbs is a collectivity doing more online.
        const days = context.settings.OBSERVATORY_WINDOW_DAYS;
        const [acts, exchanges] = await Promise.all([
          prometheus.range(`sum(last_over_time(mutualis_actes_submitted_total${selector}[${days}d]))`, start, end, 300),
          prometheus.range(`sum(last_over_time(mutualis_sesf_bytes_uploaded_total${selector}[${days}d]))`, start, end, 300),
        ]);
        res.type("html").set("cache-control", "no-store").send(collectivityPage(report, row, acts[0], exchanges[0]));
      });
      app.get("/export.csv", async (_req, res) => {
        const report = await readReport(prometheus, context.settings, context.log);
        res.type("text/csv; charset=utf-8").set("content-disposition", 'attachment; filename="observatoire-dematerialisation.csv"').send(toCsv(report));
      });
      app.get("/export.json", async (_req, res) => {
        const report = await readReport(prometheus, context.settings, context.log);
        res.set("content-disposition", 'attachment; filename="observatoire-dematerialisation.json"').json(report);
      });
    },
  };
}
