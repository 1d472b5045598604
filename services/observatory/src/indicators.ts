/**
 * The observatory's indicators: how dematerialised each collectivity is. A count is exact: the
 * services' business events, read over NATS (events.ts); a median or a state is a PromQL query
 * over the services' and the operator's metrics. Each is computed per collectivity, per category
 * and for the region; the ones no service measures yet say so (and why) rather than showing zero.
 */
import type { Totals } from "./events.ts";
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
  /** An exact count: the sum of these events' values (`<service>.<event>`); over the sum of `per`'s, a ratio. */
  counted?: { readonly events: readonly string[]; readonly per?: readonly string[] };
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
    counted: { events: ["actes.submitted"] },
  },
  {
    key: "partActesAcquittes",
    label: "Part des actes acquittés",
    description: "Actes télétransmis dont la préfecture a accusé réception.",
    unit: "ratio",
    category: "Contrôle de légalité",
    counted: { events: ["actes.acknowledged"], per: ["actes.submitted"] },
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
    key: "partActesPublies",
    label: "Part des actes publiés",
    description: "Actes acquittés par la préfecture puis publiés en ligne, donc exécutoires.",
    unit: "ratio",
    category: "Publication des actes",
    counted: { events: ["ipl.published"], per: ["actes.acknowledged"] },
  },
  {
    key: "delaiPublicationMedian",
    label: "Délai médian de publication",
    description: "Temps médian entre l'accusé de réception d'un acte et sa publication en ligne.",
    unit: "seconds",
    category: "Publication des actes",
    query: (by, days) => `histogram_quantile(0.5, sum by (le${by ? `, ${by}` : ""}) (${last("mutualis_ipl_publication_delay_seconds_bucket", days, by, ["le"])}))`,
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
    counted: { events: ["sesf.bytes_uploaded"] },
  },
  {
    key: "partagesSecurises",
    label: "Partages et dépôts sécurisés",
    description: "Partages créés par les agents et invitations à déposer envoyées.",
    unit: "count",
    category: "Échanges sécurisés",
    zeroWhenAbsent: true,
    counted: { events: ["sesf.share_created", "sesf.voucher_created"] },
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
    description: "Personnes de la collectivité connectées par l'identité unique (mot de passe ou ProConnect), comptées une fois par mois calendaire.",
    unit: "count",
    category: "Identité",
    zeroWhenAbsent: true,
    counted: { events: ["identity.signed_in_password", "identity.signed_in_proconnect"] },
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

/** An exact count (or ratio of counts) from the totals of one collectivity, category or region. */
function countedValue(counted: NonNullable<Indicator["counted"]>, totals: Readonly<Record<string, number>>): Value {
  const sum = (keys: readonly string[]) => keys.reduce((n, key) => n + (totals[key] ?? 0), 0);
  const value = sum(counted.events);
  if (!counted.per) return value;
  const per = sum(counted.per);
  return per > 0 ? value / per : null;
}

/** Totals added up (a category's collectivities, the region's). */
function addTotals(records: readonly (Readonly<Record<string, number>> | undefined)[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const record of records) for (const [key, value] of Object.entries(record ?? {})) sum[key] = (sum[key] ?? 0) + value;
  return sum;
}

/**
 * Every indicator's value: an exact count from the events' totals; otherwise from its query's
 * answer (`pick` finds the sample that belongs), with no sample 0 for a count and no value for a
 * ratio or a median; none for an unmeasured or unavailable one.
 */
function valuesOf(answers: Map<string, Sample[]>, pick: (samples: Sample[] | undefined) => Sample | undefined, totals: Readonly<Record<string, number>>, unavailable: ReadonlySet<string>): Record<string, Value> {
  const values: Record<string, Value> = {};
  for (const indicator of indicators) {
    // An indicator that could not be read has no value: never a zero that would read as "nothing done".
    if (indicator.notMeasured || unavailable.has(indicator.key)) {
      values[indicator.key] = null;
    } else if (indicator.counted) {
      values[indicator.key] = countedValue(indicator.counted, totals);
    } else {
      const sample = pick(answers.get(indicator.key));
      values[indicator.key] = sample ? finite(sample.value) : indicator.zeroWhenAbsent ? 0 : null;
    }
  }
  return values;
}

/** What a report is made of: the collectivities, the queries' answers and the events' totals. */
export interface ReportInputs {
  readonly region: string;
  readonly windowDays: number;
  readonly collectivities: readonly Collectivity[];
  /** Per indicator, its query's answer grouped by collectivity, for the region and by category. */
  readonly perCollectivity: Map<string, Sample[]>;
  readonly regional: Map<string, Sample[]>;
  readonly perCategory: Map<string, Sample[]>;
  /** The events' totals per collectivity, over the window. */
  readonly totals: Totals;
  /** Indicators that could not be read. */
  readonly unavailable?: ReadonlySet<string>;
  readonly now?: Date;
}

/** Puts the query results and the events' totals together, per collectivity, per category and for the region. */
export function buildReport(inputs: ReportInputs): Report {
  const { collectivities, perCollectivity, regional, perCategory, totals } = inputs;
  const unavailable = inputs.unavailable ?? new Set<string>();
  const rows = collectivities.map((c) => ({ ...c, values: valuesOf(perCollectivity, (samples) => samples?.find((s) => s.metric.collectivity === c.name), totals.get(c.name) ?? {}, unavailable) }));
  const regionValues = valuesOf(regional, (samples) => samples?.find((s) => Number.isFinite(s.value)), addTotals([...totals.values()]), unavailable);
  const present = [...new Set(collectivities.map((c) => c.category))].sort((a, b) => Object.keys(categoryLabels).indexOf(a) - Object.keys(categoryLabels).indexOf(b));
  const categories = present.map((category) => {
    const members = collectivities.filter((c) => c.category === category);
    return {
      category,
      label: categoryLabels[category] ?? category,
      collectivities: members.length,
      values: valuesOf(perCategory, (samples) => samples?.find((s) => s.metric.category === category), addTotals(members.map((c) => totals.get(c.name))), unavailable),
    };
  });
  return {
    region: inputs.region,
    windowDays: inputs.windowDays,
    generatedAt: (inputs.now ?? new Date()).toISOString(),
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

/**
 * A text cell a spreadsheet shows as text: one that would start a formula (=, +, -, @, or a
 * tab or carriage return before one) is prefixed with an apostrophe, as OWASP advises.
 */
export function neutralised(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** The report as CSV for a French spreadsheet: semicolons, decimal commas, UTF-8 with BOM; names never formulas. */
export function toCsv(report: Report): string {
  const measured = report.indicators.filter((i) => i.measured);
  const cell = (text: string) => (/[;"\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  const text = (value: string) => cell(neutralised(value));
  const decimal = (v: Value) => (v === null ? "" : String(Math.round(v * 1000) / 1000).replace(".", ","));
  const header = ["collectivite", "nom", "categorie", "departement", ...measured.map((i) => i.key)];
  const lines = report.collectivities.map((r) => [...[r.name, r.displayName, r.category, r.departement].map(text), ...measured.map((i) => cell(decimal(r.values[i.key] ?? null)))].join(";"));
  return `\uFEFF${[header.join(";"), ...lines].join("\r\n")}\r\n`;
}
