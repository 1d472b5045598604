import { Ajv } from "ajv";

/**
 * The délibérations of a collectivity as open data, in the SCDL schema "délibérations" 2.1.2
 * (OpenDataFrance): the columns in their order, CSV separated by ';', and JSON. The row's JSON
 * Schema below is the project's own, written from the published one; ajv checks every row before
 * it is published, so a file that does not follow the schema is never put online.
 */
export const scdlColumns = [
  "COLL_NOM",
  "COLL_SIRET",
  "DELIB_ID",
  "DELIB_DATE",
  "DELIB_MATIERE_CODE",
  "DELIB_MATIERE_NOM",
  "DELIB_OBJET",
  "BUDGET_ANNEE",
  "BUDGET_NOM",
  "PREF_ID",
  "PREF_DATE",
  "VOTE_EFFECTIF",
  "VOTE_REEL",
  "VOTE_POUR",
  "VOTE_CONTRE",
  "VOTE_ABSTENTION",
  "DELIB_URL",
] as const;

export type ScdlColumn = (typeof scdlColumns)[number];
export type ScdlRow = Partial<Record<ScdlColumn, string | number>>;

const date = { type: "string", pattern: "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$" };
const count = { type: "integer", minimum: 0 };
const text = { type: "string", minLength: 1 };

/** One délibération, as the SCDL schema 2.1.2 defines its columns. */
export const scdlRowSchema = {
  type: "object",
  additionalProperties: false,
  required: ["COLL_NOM", "COLL_SIRET", "DELIB_ID", "DELIB_DATE", "DELIB_MATIERE_CODE", "DELIB_MATIERE_NOM", "DELIB_OBJET"],
  properties: {
    COLL_NOM: text,
    COLL_SIRET: { type: "string", pattern: "^[0-9]{14}$" },
    DELIB_ID: text,
    DELIB_DATE: date,
    // The level-2 matière of the @ctes nomenclature: 1.1 to 9.4.
    DELIB_MATIERE_CODE: { type: "string", pattern: "^[0-9]\\.[0-9]{1,2}$" },
    DELIB_MATIERE_NOM: text,
    DELIB_OBJET: text,
    BUDGET_ANNEE: { type: "string", pattern: "^[0-9]{4}(/[0-9]{4})?$" },
    BUDGET_NOM: text,
    // PREFNNN, SPREFNNNM or SGARNNN: the département on three characters (02A, 02B), the arrondissement on one.
    PREF_ID: { type: "string", pattern: "^(PREF[0-9]{2}[0-9AB]|SPREF[0-9]{2}[0-9AB][0-9]|SGAR[0-9]{2}[0-9AB])$" },
    PREF_DATE: date,
    VOTE_EFFECTIF: count,
    VOTE_REEL: count,
    VOTE_POUR: count,
    VOTE_CONTRE: count,
    VOTE_ABSTENTION: count,
    DELIB_URL: { type: "string", pattern: "^https?://" },
  },
} as const;

const validateRow = new Ajv({ allErrors: true, strict: true }).compile(scdlRowSchema);

/** What is wrong with a row, one line per problem, by column; nothing when it follows the schema. */
export function scdlProblems(row: ScdlRow): string[] {
  if (validateRow(row)) return votesProblems(row);
  return (validateRow.errors ?? []).map((e) => `${e.instancePath.slice(1) || e.params.missingProperty || e.params.additionalProperty || "row"}: ${e.message ?? "is invalid"}`);
}

/** The votes must add up: no more voters than members, no more votes than voters. */
function votesProblems(row: ScdlRow): string[] {
  const n = (column: ScdlColumn) => (typeof row[column] === "number" ? (row[column] as number) : undefined);
  const problems: string[] = [];
  const [effectif, reel] = [n("VOTE_EFFECTIF"), n("VOTE_REEL")];
  if (effectif !== undefined && reel !== undefined && reel > effectif) problems.push("VOTE_REEL: more voters than members (VOTE_EFFECTIF)");
  const cast = ["VOTE_POUR", "VOTE_CONTRE", "VOTE_ABSTENTION"].map((c) => n(c as ScdlColumn));
  if (reel !== undefined && cast.every((v) => v !== undefined) && cast.reduce((a, b) => a! + b!, 0)! > reel) {
    problems.push("VOTE_POUR: pour, contre and abstentions are more than the voters (VOTE_REEL)");
  }
  return problems;
}

/**
 * DELIB_MATIERE_NOM from the @ctes nomenclature: the level-1 then level-2 names, lower-case
 * with their accents, without commas or parentheses, separated by '/'.
 */
export function scdlMatiereName(level1: string, level2: string): string {
  const clean = (name: string) => name.toLocaleLowerCase("fr-FR").replace(/\s*\([^)]*\)/g, "").replace(/,/g, "").replace(/\s+/g, " ").trim();
  return `${clean(level1)}/${clean(level2)}`;
}

/** PREF_ID of the prefecture (or sous-préfecture, with its arrondissement) controlling the act. */
export function scdlPrefectureId(departement: string, arrondissement?: number): string {
  return arrondissement === undefined ? `PREF${departement}` : `SPREF${departement}${arrondissement}`;
}

/** A CSV field: quoted when it holds the separator, a quote or a line break; quotes doubled. */
function csvField(value: string | number | undefined): string {
  if (value === undefined) return "";
  const text = String(value);
  return /[;"\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * The délibérations as SCDL CSV: the header, then one line per row, separated by ';', lines
 * ending CRLF, UTF-8. Throws, naming the row and the problem, if a row does not follow the schema.
 */
export function scdlCsv(rows: readonly ScdlRow[]): string {
  checkRows(rows);
  return [scdlColumns.join(";"), ...rows.map((row) => scdlColumns.map((column) => csvField(row[column])).join(";"))].join("\r\n") + "\r\n";
}

/** The same délibérations as JSON: an array of rows, each with every column (null when empty). */
export function scdlJson(rows: readonly ScdlRow[]): Record<ScdlColumn, string | number | null>[] {
  checkRows(rows);
  return rows.map((row) => Object.fromEntries(scdlColumns.map((column) => [column, row[column] ?? null])) as Record<ScdlColumn, string | number | null>);
}

function checkRows(rows: readonly ScdlRow[]): void {
  rows.forEach((row, i) => {
    const problems = scdlProblems(row);
    if (problems.length > 0) throw new Error(`row ${i + 1} (${String(row.DELIB_ID ?? "?")}) does not follow the SCDL délibérations schema: ${problems.join("; ")}`);
  });
}
