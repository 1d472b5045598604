import { describe, expect, it } from "vitest";
import { buildReport, collectivitiesOf, formatValue, indicators, sortRows, toCsv } from "./indicators.ts";
import { escapeHtml, overviewPage } from "./pages.ts";

const info = [
  { metric: { collectivity: "rennes", display_name: "Ville de Rennes", category: "commune", departement: "035", zone: "fr-bzh-1a" }, value: 1 },
  { metric: { collectivity: "quimper", display_name: "Ville de Quimper", category: "commune", departement: "029", zone: "fr-bzh-1b" }, value: 1 },
];

function report() {
  // Prometheus answers what is not a count (the median, the services running)…
  const per = new Map([["delaiAccuseMedian", [{ metric: { collectivity: "rennes" }, value: Number.NaN }]]]);
  const regional = new Map([["servicesActifs", [{ metric: {}, value: 2 }]]]);
  const perCategory = new Map([["servicesActifs", [{ metric: { category: "commune" }, value: 2 }]]]);
  // …and the events are counted exactly: Rennes sent 12 acts, 9 acknowledged, and shared twice.
  const totals = new Map([["rennes", { "actes.submitted": 12, "actes.acknowledged": 9, "sesf.share_created": 1, "sesf.voucher_created": 1 }]]);
  return buildReport({ region: "Bretagne", windowDays: 30, collectivities: collectivitiesOf(info), perCollectivity: per, regional, perCategory, totals, now: new Date("2026-11-28T10:00:00Z") });
}

describe("the observatory's indicators", () => {
  it("when collectivities are grouped by category, then each category present has its count of collectivities and its indicators", () => {
    expect(report().categories).toEqual([
      expect.objectContaining({ category: "commune", label: "Communes", collectivities: 2, values: expect.objectContaining({ actesTransmis: 12, partActesAcquittes: 0.75, volumeEchanges: 0, delaiAccuseMedian: null, partFacturesElectroniques: null }) }),
    ]);
    expect(indicators.filter((i) => i.query).every((i) => i.query!("category", 30).includes("group_left (category) max by (collectivity, category) (mutualis_collectivity_info)"))).toBe(true);
    expect(report().regionValues).toMatchObject({ actesTransmis: 12, partActesAcquittes: 0.75, partagesSecurises: 2, servicesActifs: 2 });
  });

  it("when a collectivity has no series yet, then its counts read 0 and its ratios and medians have no value; unmeasured ones say why", () => {
    const r = report();
    const quimper = r.collectivities.find((c) => c.name === "quimper")!;
    expect(quimper.values).toMatchObject({ actesTransmis: 0, volumeEchanges: 0, partActesAcquittes: null, delaiAccuseMedian: null });
    expect(r.collectivities.find((c) => c.name === "rennes")!.values).toMatchObject({ actesTransmis: 12, partActesAcquittes: 0.75, delaiAccuseMedian: null });
    const unmeasured = r.indicators.filter((i) => !i.measured);
    expect(unmeasured.map((i) => i.key)).toEqual(["partActesTeletransmis", "partFacturesElectroniques", "marchesEnLigne", "partOffresElectroniques"]);
    expect(unmeasured.every((i) => i.notMeasured && i.notMeasured.length > 10)).toBe(true);
    expect(r.regionValues.partFacturesElectroniques).toBeNull();
  });

  it("when sorted by an indicator, then rows without a value come last whatever the order", () => {
    const rows = report().collectivities;
    expect(sortRows(rows, "partActesAcquittes", true).map((r) => r.name)).toEqual(["rennes", "quimper"]);
    expect(sortRows(rows, "partActesAcquittes", false).map((r) => r.name)).toEqual(["rennes", "quimper"]);
    expect(sortRows(rows, "actesTransmis", false).map((r) => r.name)).toEqual(["quimper", "rennes"]);
    expect(sortRows(rows, undefined, false).map((r) => r.name)).toEqual(["quimper", "rennes"]);
  });

  it("when values are shown, then they read as in French", () => {
    expect(formatValue(1234, "count")).toBe("1\u202f234");
    expect(formatValue(0.75, "ratio")).toBe("75\u00a0%");
    expect(formatValue(1_200_000_000, "bytes")).toBe("1,2 Go");
    expect(formatValue(125, "seconds")).toBe("2 min 5 s");
    expect(formatValue(null, "ratio")).toBe("—");
  });

  it("when exported as CSV, then a French spreadsheet reads it: BOM, semicolons, decimal commas, quoted names", () => {
    const csv = toCsv(report());
    expect(csv.startsWith("\uFEFFcollectivite;nom;categorie;departement;actesTransmis;partActesAcquittes")).toBe(true);
    expect(csv).toContain("rennes;Ville de Rennes;commune;035;12;0,75;");
    expect(csv).not.toContain("partFacturesElectroniques");
  });

  it("when a name would start a spreadsheet formula, then the CSV writes it as text", () => {
    const r = report();
    const names = ["=HYPERLINK(\"http://x\")", "+33 Rennes", "-2+3", "@SUM(A1)", "\t=1", "Rennes"];
    const rows = names.map((displayName) => {
      r.collectivities[0]!.displayName = displayName;
      return toCsv(r).split("\r\n")[1]!.split(";")[1];
    });
    expect(rows).toEqual(['"\'=HYPERLINK(""http://x"")"', "'+33 Rennes", "'-2+3", "'@SUM(A1)", "'\t=1", "Rennes"]);
  });

  it("when a name holds markup, then the page shows it as text", () => {
    expect(escapeHtml(`<script>alert("x")</script>`)).toBe("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    const r = report();
    r.collectivities[0]!.displayName = "<b>Rennes</b>";
    const html = overviewPage(r, r.collectivities, undefined, false);
    expect(html).toContain("&lt;b&gt;Rennes&lt;/b&gt;");
    expect(html).toContain('<html lang="fr">');
    expect(indicators.length).toBe(13);
  });
});
