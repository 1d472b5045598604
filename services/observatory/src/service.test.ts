import { Unavailable } from "@mutualis/service-kit";
import { describe, expect, it } from "vitest";
import { overviewPage } from "./pages.ts";
import type { PrometheusClient, Sample } from "./prometheus.ts";
import { readReport } from "./service.ts";

/** Answers as Prometheus would for two collectivities, and refuses every query over sesf's bytes. */
const prometheus = {
  async query(expr: string): Promise<Sample[]> {
    if (expr.includes("mutualis_collectivity_info") && expr.startsWith("max by (collectivity, display_name")) {
      return [{ metric: { collectivity: "rennes", display_name: "Ville de Rennes", category: "commune", departement: "035", zone: "fr-bzh-1a" }, value: 1 }];
    }
    if (expr.includes("mutualis_sesf_bytes_uploaded_total")) throw new Unavailable("Prometheus refused a query: query timed out");
    if (expr.includes("mutualis_actes_submitted_total") && !expr.includes("acknowledged")) return [{ metric: { collectivity: "rennes", category: "commune" }, value: 7 }];
    return [];
  },
} as unknown as PrometheusClient;

describe("the observatory's report", () => {
  it("when one indicator's query fails, then that indicator says it is unavailable, has no value (never 0), and the others are shown", async () => {
    const warnings: unknown[] = [];
    const report = await readReport(prometheus, { OBSERVATORY_REGION: "Bretagne", OBSERVATORY_WINDOW_DAYS: 30 }, { warn: (fields: unknown) => void warnings.push(fields) });
    expect(report.indicators.find((i) => i.key === "volumeEchanges")).toMatchObject({ measured: true, unavailable: true });
    expect(report.indicators.filter((i) => i.unavailable).map((i) => i.key)).toEqual(["volumeEchanges"]);
    const rennes = report.collectivities[0]!;
    expect(rennes.values).toMatchObject({ volumeEchanges: null, actesTransmis: 7, partagesSecurises: 0 });
    expect(report.regionValues.volumeEchanges).toBeNull();
    expect(warnings).toEqual([{ indicator: "volumeEchanges", reason: "Prometheus refused a query: query timed out" }]);
    const page = overviewPage(report, report.collectivities, undefined, false);
    expect(page).toContain("Momentanément indisponible");
    expect(page).toContain("<td>indisponible</td>");
  });
});
