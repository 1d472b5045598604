import { Unavailable } from "@mutualis/service-kit";
import { describe, expect, it } from "vitest";
import { overviewPage } from "./pages.ts";
import type { PrometheusClient, Sample } from "./prometheus.ts";
import { readReport } from "./service.ts";

/** Answers as Prometheus would for one collectivity, and refuses every query of the median delay. */
const prometheus = {
  async query(expr: string): Promise<Sample[]> {
    if (expr.includes("mutualis_collectivity_info") && expr.startsWith("max by (collectivity, display_name")) {
      return [{ metric: { collectivity: "rennes", display_name: "Ville de Rennes", category: "commune", departement: "035", zone: "fr-bzh-1a" }, value: 1 }];
    }
    if (expr.includes("mutualis_actes_acknowledgement_seconds_bucket")) throw new Unavailable("Prometheus refused a query: query timed out");
    if (expr.includes("mutualis_service_instances")) return [{ metric: { collectivity: "rennes", category: "commune" }, value: 2 }];
    return [];
  },
} as unknown as PrometheusClient;

describe("the observatory's report", () => {
  it("when one indicator's query fails, then that indicator says it is unavailable, has no value, and the others are shown", async () => {
    const warnings: unknown[] = [];
    const counts = { totals: async () => new Map([["rennes", { "actes.submitted": 7 }]]) };
    const report = await readReport(prometheus, counts, { OBSERVATORY_REGION: "Bretagne", OBSERVATORY_WINDOW_DAYS: 30 }, { warn: (fields: unknown) => void warnings.push(fields) });
    expect(report.indicators.find((i) => i.key === "delaiAccuseMedian")).toMatchObject({ measured: true, unavailable: true });
    expect(report.indicators.filter((i) => i.unavailable).map((i) => i.key)).toEqual(["delaiAccuseMedian"]);
    const rennes = report.collectivities[0]!;
    expect(rennes.values).toMatchObject({ delaiAccuseMedian: null, actesTransmis: 7, partagesSecurises: 0, servicesActifs: 2 });
    expect(report.regionValues.delaiAccuseMedian).toBeNull();
    expect(warnings).toEqual([{ indicators: ["delaiAccuseMedian"], reason: "Prometheus refused a query: query timed out" }]);
    const page = overviewPage(report, report.collectivities, undefined, false);
    expect(page).toContain("Momentanément indisponible");
    expect(page).toContain("<td>indisponible</td>");
  });

  it("when the events cannot be read, then every count is unavailable (never 0) and the rest is shown", async () => {
    const counts = { totals: () => Promise.reject(new Error("the observatory's database does not answer")) };
    const report = await readReport(prometheus, counts, { OBSERVATORY_REGION: "Bretagne", OBSERVATORY_WINDOW_DAYS: 30 });
    expect(report.indicators.filter((i) => i.unavailable).map((i) => i.key).sort()).toEqual(["actesTransmis", "delaiAccuseMedian", "partActesAcquittes", "partActesPublies", "partagesSecurises", "utilisateursActifsSso", "volumeEchanges"]);
    expect(report.collectivities[0]!.values).toMatchObject({ actesTransmis: null, volumeEchanges: null, servicesActifs: 2 });
  });
});
