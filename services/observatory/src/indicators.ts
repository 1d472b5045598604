/**
 * The observatory's indicators: how dematerialised each collectivity is. Each measured one is a
 * PromQL query over the services' business metrics, per collectivity and for the region; the
 * ones no service measures yet say so (and why) rather than showing zero.
 */
import type { Sample } from "./prometheus.ts";

export type Unit = "count" | "ratio" | "seconds" | "bytes";

export interface Indicator {
  key: string;
  label: string;
  description: string;
  unit: Unit;
  category: string;
  /** PromQL for this indicator, grouped `by` the given labels ("" for the region), over `days`. */
  query?: (by: string, days: number) => string;
  /** Counts read 0 for a collectivity with no series yet; a ratio or a median has no value then. */
  zeroWhenAbsent?: boolean;
  /** Why it is not measured yet. */
  notMeasured?: string;
}

/**
 * Grouped by a collectivity's category, a per-collectivity vector takes its category from the
 * operator's `mutualis_collectivity_info` (the services' metrics name the collectivity only).
 */
// The series are summed per collectivity (and `keep`) first: two series differing only by their
// name (shares and vouchers) or their pod would otherwise be one output series twice.
const withCategory = (vector: string, by: string, keep: readonly string[] = []) =>
  by === "category"
    ? `(sum by (${["collectivity", ...keep].join(", ")}) (${vector}) * on (collectivity) group_left (category) max by (collectivity, category) (mutualis_collectivity_info))`
    : vector;
const last = (metric: string, days: number, by = "", keep: readonly string[] = []) => withCategory(`last_over_time(${metric}[${days}d])`, by, keep);
const grouped = (by: string) => (by ? `by (${by})` : "");

export const indicators: readonly Indicator[] = [
  {
    key: "actesTransmis",
    label: "Actes télétransmis",
    description: "Actes envoyés au contrôle de légalité par la plateforme (@ctes).",
    unit: "count",
    category: "Contrôle de légalité",
    zeroWhenAbsent: true,
    query: (by, days) => `sum ${grouped(by)} (${last("mutualis_actes_submitted_total", days, by)})`,
  },
  {
    key: "partActesAcquittes",
    label: "Part des actes acquittés",
    description: "Actes télétransmis dont la préfecture a accusé réception.",
    unit: "ratio",
    category: "Contrôle de légalité",
    query: (by, days) => `sum ${grouped(by)} (${last("mutualis_actes_acknowledged_total", days, by)}) / sum ${grouped(by)} (${last("mutualis_actes_submitted_total", days, by)})`,
  },
  {
    key: "delaiAccuseMedian",
    label: "Délai médian d'accusé de réception",
    description: "Temps médian entre l'envoi d'un acte et l'accusé de réception de la préfecture.",
    unit: "seconds",
    category: "Contrôle de légalité",
    query: (by, days) => `histogram_quantile(0.5, sum by (le${by ? `, ${by}` : ""}) (${last("mutualis_actes_acknowledgement_seconds_bucket", days, by, ["le"])}))`,
  },
  {
    key: "partActesTeletransmis",
    label: "Part des actes télétransmis",
    description: "Actes télétransmis parmi tous les actes soumis au contrôle de légalité.",
    unit: "ratio",
    category: "Contrôle de légalité",
    notMeasured: "les actes encore transmis sur papier ne sont pas connus de la plateforme",
  },
  {
    key: "volumeEchanges",
    label: "Volume des échanges sécurisés",
    description: "Octets déposés dans des partages sécurisés (échange de fichiers).",
    unit: "bytes",
    category: "Échanges sécurisés",
    zeroWhenAbsent: true,
    query: (by, days) => `sum ${grouped(by)} (${last("mutualis_sesf_bytes_uploaded_total", days, by)})`,
  },
  {
    key: "partagesSecurises",
    label: "Partages et dépôts sécurisés",
    description: "Partages créés par les agents et invitations à déposer envoyées.",
    unit: "count",
    category: "Échanges sécurisés",
    zeroWhenAbsent: true,
    query: (by, days) => `sum ${grouped(by)} (${last('{__name__=~"mutualis_sesf_(shares|vouchers)_created_total"}', days, by)})`,
  },
  {
    key: "servicesActifs",
    label: "Services actifs",
    description: "Services du catalogue en fonctionnement pour la collectivité.",
    unit: "count",
    category: "Plateforme",
    zeroWhenAbsent: true,
    query: (by) => `count ${grouped(by)} (${withCategory('max by (collectivity, service) (mutualis_service_instances{ready="true"})', by, ["service"])})`,
  },
  {
    key: "partFacturesElectroniques",
    label: "Part des factures électroniques",
    description: "Factures reçues et émises sous forme électronique (Chorus Pro).",
    unit: "ratio",
    category: "Finances",
    notMeasured: "le service de factures électroniques n'est pas encore proposé",
  },
  {
    key: "marchesEnLigne",
    label: "Marchés publiés en ligne",
    description: "Consultations publiées sur la place de marché.",
    unit: "count",
    category: "Commande publique",
    notMeasured: "la place de marché n'est pas encore proposée",
  },
  {
    key: "partOffresElectroniques",
    label: "Part des offres électroniques",
    description: "Offres reçues par voie électronique.",
    unit: "ratio",
    category: "Commande publique",
    notMeasured: "la place de marché n'est pas encore proposée",
  },
  {
    key: "utilisateursActifsSso",
    label: "Utilisateurs actifs (SSO)",
    description: "Agents connectés au moins une fois par l'identité unique.",
    unit: "count",
    category: "Identité",
    notMeasured: "le service d'identité n'est pas encore proposé",
  },
];

export interface Collectivity {
  name: string;
  displayName: string;
  category: string;
  departement: string;
  zone: string;
}

/** A value, none yet (null), or not measured (the indicator says why). */
export type Value = number | null;

export interface Row extends Collectivity {
  values: Record<string, Value>;
}

/** The indicators of every collectivity of one category (communes, EPCI…), together. */
export interface CategoryRow {
  category: string;
  label: string;
  collectivities: number;
  values: Record<string, Value>;
}

export const categoryLabels: Readonly<Record<string, string>> = {
  commune: "Communes",
  epci: "Intercommunalités (EPCI)",
  departement: "Départements",
  region: "Régions",
  syndicat: "Syndicats",
  other: "Autres",
};

export interface Report {
  region: string;
  windowDays: number;
  generatedAt: string;
  indicators: { key: string; label: string; description: string; unit: Unit; category: string; measured: boolean; notMeasured?: string; unavailable?: boolean }[];
  regionValues: Record<string, Value>;
  categories: CategoryRow[];
  collectivities: Row[];
}

const finite = (n: number | undefined): Value => (n === undefined || !Number.isFinite(n) ? null : n);

/** The collectivities known to the operator, from `mutualis_collectivity_info`. */
export function collectivitiesOf(info: Sample[]): Collectivity[] {
  const byName = new Map<string, Collectivity>();
  for (const { metric } of info) {
    if (!metric.collectivity) continue;
    byName.set(metric.collectivity, {
      name: metric.collectivity,
      displayName: metric.display_name ?? metric.collectivity,
      category: metric.category ?? "",
      departement: metric.departement ?? "",
      zone: metric.zone ?? "",
    });
  }
  return [...byName.values()].sort((a, b) => a.displayName.localeCompare(b.displayName, "fr"));
}

/**
 * Every indicator's value from its query's answer (`pick` finds the sample that belongs): none for
 * an unmeasured one; with no sample, 0 for a count and no value for a ratio or a median.
 */
function valuesOf(answers: Map<string, Sample[]>, pick: (samples: Sample[] | undefined) => Sample | undefined, unavailable: ReadonlySet<string>): Record<string, Value> {
  const values: Record<string, Value> = {};
  for (const indicator of indicators) {
    // An indicator whose queries failed has no value: never a zero that would read as "nothing done".
    const known = !indicator.notMeasured && !unavailable.has(indicator.key);
    const sample = known ? pick(answers.get(indicator.key)) : undefined;
    values[indicator.key] = !known ? null : sample ? finite(sample.value) : indicator.zeroWhenAbsent ? 0 : null;
  }
  return values;
}

/** Puts the query results together, per collectivity, per category and for the region. */
export function buildReport(
  region: string,
  windowDays: number,
  collectivities: Collectivity[],
  perCollectivity: Map<string, Sample[]>,
  regional: Map<string, Sample[]>,
  perCategory: Map<string, Sample[]> = new Map(),
  now = new Date(),
  unavailable: ReadonlySet<string> = new Set(),
): Report {
  const rows = collectivities.map((c) => ({ ...c, values: valuesOf(perCollectivity, (samples) => samples?.find((s) => s.metric.collectivity === c.name), unavailable) }));
  const regionValues = valuesOf(regional, (samples) => samples?.find((s) => Number.isFinite(s.value)), unavailable);
  const present = [...new Set(collectivities.map((c) => c.category))].sort((a, b) => Object.keys(categoryLabels).indexOf(a) - Object.keys(categoryLabels).indexOf(b));
  const categories = present.map((category) => ({
    category,
    label: categoryLabels[category] ?? category,
    collectivities: collectivities.filter((c) => c.category === category).length,
    values: valuesOf(perCategory, (samples) => samples?.find((s) => s.metric.category === category), unavailable),
  }));
  return {
    region,
    windowDays,
    generatedAt: now.toISOString(),
    indicators: indicators.map(({ key, label, description, unit, category, notMeasured }) => ({
      key,
      label,
      description,
      unit,
      category,
      measured: !notMeasured,
      ...(notMeasured ? { notMeasured } : {}),
      ...(unavailable.has(key) ? { unavailable: true } : {}),
    })),
    regionValues,
    categories,
    collectivities: rows,
  };
}

/** Rows sorted by an indicator (absent values last, whatever the order) or by name. */
export function sortRows(rows: Row[], key: string | undefined, descending: boolean): Row[] {
  const sorted = [...rows];
  if (!key || !indicators.some((i) => i.key === key && !i.notMeasured)) {
    return sorted.sort((a, b) => a.displayName.localeCompare(b.displayName, "fr") * (descending ? -1 : 1));
  }
  return sorted.sort((a, b) => {
    const x = a.values[key] ?? null;
    const y = b.values[key] ?? null;
    if (x === null && y === null) return a.displayName.localeCompare(b.displayName, "fr");
    if (x === null) return 1;
    if (y === null) return -1;
    return (x - y) * (descending ? -1 : 1) || a.displayName.localeCompare(b.displayName, "fr");
  });
}

const number = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat("fr-FR", { style: "percent", maximumFractionDigits: 0 });

/** A value as a French reader expects it: 1 234, 87 %, 2 min 5 s, 1,2 Go. */
export function formatValue(value: Value, unit: Unit): string {
  if (value === null) return "—";
  switch (unit) {
    case "count":
      return number.format(value);
    case "ratio":
      return percent.format(value);
    case "bytes": {
      const units = ["octets", "Ko", "Mo", "Go", "To"];
      let v = value;
      let u = 0;
      while (v >= 1000 && u < units.length - 1) {
        v /= 1000;
        u++;
      }
      return `${number.format(v)} ${units[u]}`;
    }
    case "seconds": {
      if (value < 60) return `${number.format(value)} s`;
      if (value < 3600) return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
      if (value < 86_400) return `${Math.floor(value / 3600)} h ${Math.round((value % 3600) / 60)} min`;
      return `${number.format(value / 86_400)} j`;
    }
  }
}

/** The report as CSV for a French spreadsheet: semicolons, decimal commas, UTF-8 with BOM. */
export function toCsv(report: Report): string {
  const measured = report.indicators.filter((i) => i.measured);
  const cell = (text: string) => (/[;"\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  const decimal = (v: Value) => (v === null ? "" : String(Math.round(v * 1000) / 1000).replace(".", ","));
  const header = ["collectivite", "nom", "categorie", "departement", ...measured.map((i) => i.key)];
  const lines = report.collectivities.map((r) => [r.name, r.displayName, r.category, r.departement, ...measured.map((i) => decimal(r.values[i.key] ?? null))].map(cell).join(";"));
  return `\uFEFF${[header.join(";"), ...lines].join("\r\n")}\r\n`;
}
