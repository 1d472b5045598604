import { describe, expect, it } from "vitest";
import { actSubmission, isFutureDate, looksLikePdf, looksLikeXml, maxArchiveBytes } from "./act.ts";

const pdf = { fileName: "deliberation.pdf", mimeType: "application/pdf", size: 120_000, sha256: "a".repeat(64) };
const valid = { numeroInterne: "D2026_001", nature: 1, classification: "7.1", objet: "Budget primitif 2027", date: "2026-11-28", document: pdf };

function problems(input: unknown): string[] {
  const result = actSubmission.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("an act submission", () => {
  it("when every field is right, then it is accepted with no annexes and not on paper by default", () => {
    const act = actSubmission.parse(valid);
    expect(act.annexes).toEqual([]);
    expect(act.documentPapier).toBe(false);
  });

  it("when a budget document is XML, or an object has French latin-1 letters, then it is accepted", () => {
    expect(problems({ ...valid, nature: 5, classification: "7.1", document: { ...pdf, mimeType: "application/xml" } })).toEqual([]);
    expect(problems({ ...valid, objet: "Élection du maire, délégations à l'adjoint, garçon « ça »" })).toEqual([]);
  });

  it.each([
    ["a nature of 7", { nature: 7 }, "nature: must be 1 to 6"],
    ["a lower-case internal number", { numeroInterne: "d2026-1" }, "numeroInterne: must be 2 to 15 capital letters"],
    ["an internal number of 16 characters", { numeroInterne: "A".repeat(16) }, "numeroInterne: must be 2 to 15"],
    ["a matière code of letters", { classification: "budget" }, "classification: must be a matière code"],
    ["a matière code of one level", { classification: "7" }, "CodeMatiere1 and CodeMatiere2 are required"],
    ["an object the prefecture's encoding cannot write", { objet: "Vœu du conseil – 2027 €" }, 'has no "œ" (U+0153), "–" (U+2013), "€" (U+20AC)'],
    ["a replaced act that is not an identifier", { precedent: "D2025_001" }, "precedent: must be the identifier of an act"],
    ["an unknown typology", { document: { ...pdf, typology: "DE" } }, "document.typology: must be an @ctes typology"],
    ["a délibération in XML", { document: { ...pdf, mimeType: "application/xml" } }, "only a budget document (nature 5) may be XML"],
    ["an object of 500 characters", { objet: "x".repeat(500) }, "objet: must be at most 499 characters"],
    ["an empty object", { objet: "   " }, "objet: must not be empty"],
    ["a date that is not a date", { date: "28/11/2026" }, "date: must be a date such as 2026-11-28"],
    ["a document that is not a PDF", { document: { ...pdf, mimeType: "application/msword" } }, "document.mimeType: must be a PDF"],
    ["files over 150 MB", { document: { ...pdf, size: maxArchiveBytes + 1 } }, "document: the act and its annexes exceed 150 MB"],
  ])("when it has %s, then it is refused saying why", (_case, change, message) => {
    expect(problems({ ...valid, ...change }).join("\n")).toContain(message);
  });
});

describe("file and date checks", () => {
  it("when bytes start with %PDF-, then they look like a PDF; a renamed Word file does not", () => {
    expect(looksLikePdf(Buffer.from("%PDF-1.7\n..."))).toBe(true);
    expect(looksLikePdf(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1]))).toBe(false);
    expect(looksLikeXml(Buffer.from('<?xml version="1.0"?><DocumentBudgetaire/>'))).toBe(true);
    expect(looksLikeXml(Buffer.from("%PDF-1.7"))).toBe(false);
  });

  it("when the act is dated tomorrow, then it is in the future", () => {
    const now = new Date("2026-11-28T23:00:00Z");
    expect(isFutureDate("2026-11-29", now)).toBe(true);
    expect(isFutureDate("2026-11-28", now)).toBe(false);
  });
});
