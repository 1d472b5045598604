import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { atomFeed } from "./atom.ts";
import { deliberationListDue, enforceableOn, onlineUntilAtLeast } from "./enforceability.ts";
import { scdlColumns, scdlCsv, scdlJson, scdlMatiereName, scdlPrefectureId, scdlProblems, type ScdlRow } from "./scdl.ts";

const row: ScdlRow = {
  COLL_NOM: "Ville de Rennes",
  COLL_SIRET: "21350238800019",
  DELIB_ID: "D2026_001",
  DELIB_DATE: "2026-11-20",
  DELIB_MATIERE_CODE: "7.1",
  DELIB_MATIERE_NOM: scdlMatiereName("Finances locales", "Décisions budgétaires"),
  DELIB_OBJET: 'Budget primitif 2027; vote "par chapitre"',
  BUDGET_ANNEE: "2027",
  PREF_ID: scdlPrefectureId("035"),
  PREF_DATE: "2026-11-21",
  VOTE_EFFECTIF: 61,
  VOTE_REEL: 58,
  VOTE_POUR: 40,
  VOTE_CONTRE: 15,
  VOTE_ABSTENTION: 3,
  DELIB_URL: "https://actes.mutualis.test/rennes/actes/d2026-001",
};

describe("the délibérations as SCDL open data", () => {
  it("when a délibération is exported, then the CSV has the schema's columns in order, ';' separated, quoted where needed", () => {
    const csv = scdlCsv([row]);
    const [header, line] = csv.split("\r\n");
    expect(header).toBe(scdlColumns.join(";"));
    expect(line).toBe(
      'Ville de Rennes;21350238800019;D2026_001;2026-11-20;7.1;finances locales/décisions budgétaires;"Budget primitif 2027; vote ""par chapitre""";2027;;PREF035;2026-11-21;61;58;40;15;3;https://actes.mutualis.test/rennes/actes/d2026-001',
    );
    expect(scdlJson([row])[0]).toMatchObject({ DELIB_ID: "D2026_001", BUDGET_NOM: null, VOTE_POUR: 40 });
  });

  it("when Python's csv module reads the export, then every row has the schema's columns and the values come back", () => {
    const csv = scdlCsv([row, { ...row, DELIB_ID: "D2026_002", DELIB_OBJET: "Ligne\nsur deux", BUDGET_ANNEE: undefined, VOTE_EFFECTIF: undefined }]);
    const script = "import csv,sys,json; r=list(csv.DictReader(sys.stdin, delimiter=';')); print(json.dumps([[len(x), x['DELIB_OBJET'], x['BUDGET_ANNEE']] for x in r]))";
    const read = JSON.parse(execFileSync("python3", ["-c", script], { input: csv, encoding: "utf8" })) as unknown[];
    expect(read).toEqual([
      [17, 'Budget primitif 2027; vote "par chapitre"', "2027"],
      [17, "Ligne\nsur deux", ""],
    ]);
  });

  it.each([
    ["a SIRET of 13 digits", { COLL_SIRET: "2135023880001" }, "COLL_SIRET: must match pattern"],
    ["a level-3 matière", { DELIB_MATIERE_CODE: "7.1.2" }, "DELIB_MATIERE_CODE: must match pattern"],
    ["a date in French", { DELIB_DATE: "20/11/2026" }, "DELIB_DATE: must match pattern"],
    ["no object", { DELIB_OBJET: undefined }, "DELIB_OBJET"],
    ["a budget year range written with a dash", { BUDGET_ANNEE: "2027-2028" }, "BUDGET_ANNEE: must match pattern"],
    ["a prefecture id of two digits", { PREF_ID: "PREF35" }, "PREF_ID: must match pattern"],
    ["a column the schema does not have", { COMMENTAIRE: "x" }, "COMMENTAIRE"],
    ["more votes than voters", { VOTE_POUR: 50 }, "VOTE_POUR: pour, contre and abstentions are more than the voters"],
    ["more voters than members", { VOTE_REEL: 70 }, "VOTE_REEL: more voters than members"],
  ])("when a row has %s, then the schema refuses it and nothing is exported", (_case, change, message) => {
    // A column set to undefined is left out, as an empty cell is.
    const bad = Object.fromEntries(Object.entries({ ...row, ...change }).filter(([, value]) => value !== undefined)) as ScdlRow;
    expect(scdlProblems(bad).join("\n")).toContain(message);
    expect(() => scdlCsv([row, bad])).toThrow(/row 2 \(D2026_001\) does not follow the SCDL délibérations schema/);
  });

  it("when matière names come from the nomenclature, then they are lower-case, without commas or parentheses", () => {
    expect(scdlMatiereName("Domaines de compétences par thèmes", "Aménagement du territoire")).toBe("domaines de compétences par thèmes/aménagement du territoire");
    expect(scdlMatiereName("Finances locales", "Prise de participation (SEM, etc.)")).toBe("finances locales/prise de participation");
    expect(scdlPrefectureId("02A", 2)).toBe("SPREF02A2");
  });
});

describe("enforceability and the time online", () => {
  it("when a controlled act is published before its acknowledgement, then it is enforceable on the acknowledgement; otherwise on publication", () => {
    expect(enforceableOn({ publishedOn: "2026-11-20", acknowledgedOn: "2026-11-22", controlled: true })).toBe("2026-11-22");
    expect(enforceableOn({ publishedOn: "2026-11-25", acknowledgedOn: "2026-11-22", controlled: true })).toBe("2026-11-25");
    expect(enforceableOn({ publishedOn: "2026-11-25", controlled: true })).toBeUndefined();
    expect(enforceableOn({ publishedOn: "2026-11-25", controlled: false })).toBe("2026-11-25");
  });

  it("when an act is put online, then it stays two months, to the same day or the month's end; a session's list is due within a week", () => {
    expect(onlineUntilAtLeast("2026-11-20")).toBe("2027-01-20");
    expect(onlineUntilAtLeast("2026-12-31")).toBe("2027-02-28");
    expect(deliberationListDue("2026-12-28")).toBe("2027-01-04");
  });
});

describe("the Atom feed", () => {
  it("when the feed is written, then xmllint finds it well-formed, newest act first, with its file and its author", () => {
    const feed = atomFeed(
      {
        url: "https://actes.mutualis.test/rennes/actes.atom",
        pageUrl: "https://actes.mutualis.test/rennes/actes",
        title: "Ville de Rennes — actes publiés",
        entries: [
          { url: "https://actes.mutualis.test/rennes/actes/1", title: "Délibération & budget", publishedAt: new Date("2026-11-20T10:00:00Z"), updatedAt: new Date("2026-11-20T10:00:00Z"), file: { url: "https://actes.mutualis.test/rennes/actes/1/fichier", type: "application/pdf", length: 1234 } },
          { url: "https://actes.mutualis.test/rennes/actes/2", title: "Arrêté de voirie", publishedAt: new Date("2026-11-22T10:00:00Z"), updatedAt: new Date("2026-11-22T10:00:00Z"), file: { url: "https://actes.mutualis.test/rennes/actes/2/fichier", type: "application/pdf", length: 99 }, author: { name: "Nathalie Appéré", role: "Maire" } },
        ],
      },
      new Date("2026-11-30T00:00:00Z"),
    );
    expect(execFileSync("xmllint", ["--noout", "-"], { input: feed, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] })).toBe("");
    expect(feed.indexOf("Arrêté de voirie")).toBeLessThan(feed.indexOf("Délibération &amp; budget"));
    expect(feed).toContain("<author><name>Nathalie Appéré, Maire</name></author>");
    expect(feed).toContain("<updated>2026-11-22T10:00:00.000Z</updated>");
  });
});
