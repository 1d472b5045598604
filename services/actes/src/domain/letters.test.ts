import { Conflict } from "@mutualis/service-kit";
import { describe, expect, it } from "vitest";
import { answerAcknowledgementXml, answers, answerXml, initialLetterStatus, letterKinds, prefectureLetterXml, readCollectivityMessage, statusAfterAnswer, type AnswerKind, type LetterKind } from "./letters.ts";
import { readPrefectureMessage } from "./returns.ts";
import { validateActes } from "./schema.ts";

const identifier = "035-213502388-20261128-D2026_001-DE";

describe("the letters of the prefecture and their answers", () => {
  it.each(Object.keys(letterKinds) as LetterKind[])("when the prefecture writes a %s, then it is valid @ctes and read back with its text and documents", (kind) => {
    const xml = prefectureLetterXml(kind, identifier, "2026-12-10", { document: "99_CO-x_1.pdf", text: "Le procès-verbal de la séance" });
    expect(validateActes(xml)).toEqual([]);
    const read = readPrefectureMessage(xml);
    expect(read).toMatchObject({ kind: "Letter", letter: kind, identifier, on: "2026-12-10", documents: ["99_CO-x_1.pdf"] });
    if (kind !== "CourrierSimple") expect(read).toMatchObject({ text: "Le procès-verbal de la séance" });
  });

  it.each(Object.keys(answers) as AnswerKind[])("when the collectivity sends a %s, then it is valid @ctes and the prefecture reads which letter it answers", (kind) => {
    const documents = { none: [], one: ["99_AU-a_1.pdf"], many: ["99_AU-a_1.pdf", "99_AU-a_2.pdf"] }[answers[kind].documents];
    const xml = answerXml(kind, identifier, "2026-12-10", documents);
    expect(validateActes(xml)).toEqual([]);
    expect(readCollectivityMessage(xml)).toEqual({ kind, identifier, letterDate: "2026-12-10", documents });
  });

  it("when the prefecture acknowledges documents, then the acknowledgement names the letter", () => {
    const xml = answerAcknowledgementXml("ARPieceComplementaire", identifier, "2026-12-10", "2026-12-12");
    expect(readPrefectureMessage(xml)).toEqual({ kind: "AnswerAcknowledgement", acknowledgement: "ARPieceComplementaire", identifier, letterDate: "2026-12-10", receivedOn: "2026-12-12" });
  });

  it("when a letter is answered, then its status follows @ctes: acknowledged first where it must be, then documents sent", () => {
    expect(initialLetterStatus("DemandePieceComplementaire")).toBe("received");
    expect(initialLetterStatus("CourrierSimple")).toBe("receivedNoAcknowledgement");
    expect(statusAfterAnswer("DemandePieceComplementaire", "received", "ARDemandePieceComplementaire")).toBe("acknowledgementSent");
    expect(statusAfterAnswer("DemandePieceComplementaire", "acknowledgementSent", "PieceComplementaire")).toBe("documentSent");
    expect(statusAfterAnswer("LettreObservations", "acknowledgementSent", "RejetLettreObservations")).toBe("documentSent");
    expect(statusAfterAnswer("CourrierSimple", "receivedNoAcknowledgement", "ReponseCourrierSimple")).toBe("documentSent");
    expect(() => statusAfterAnswer("DemandePieceComplementaire", "received", "PieceComplementaire")).toThrow(Conflict);
    expect(() => statusAfterAnswer("DemandePieceComplementaire", "received", "PieceComplementaire")).toThrow('(it must be "Acquittement envoyé")');
    expect(() => statusAfterAnswer("LettreObservations", "received", "ARDemandePieceComplementaire")).toThrow("a ARDemandePieceComplementaire answers a DemandePieceComplementaire, not a LettreObservations");
  });
});
