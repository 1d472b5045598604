import { describe, expect, it } from "vitest";
import type { ActMetadata } from "./envelope.ts";
import { prefectureEnvelopeName } from "./identifiers.ts";
import { prefectureLetterXml } from "./letters.ts";
import { anomalieActeXml, anomalieEnveloppeXml, annulationXml, arActeXml, arAnnulationXml, MessageError, prefectureEnvelopeXml, readPrefectureMessage } from "./returns.ts";
import { readActes, validateActes } from "./schema.ts";

const identifier = "035-213502388-20261128-D2026_001-DE";
const act: ActMetadata = {
  date: "2026-11-28",
  numeroInterne: "D2026_001",
  nature: 1,
  classification: "7.1",
  objet: "Délibération sur la façade de l'hôtel de ville",
  documentPapier: false,
  classificationVersion: "2026-01-01",
  document: { name: `99_DE-${identifier}-1-1_1.pdf` },
  annexes: [],
};

describe("the messages about a transmitted act", () => {
  it("when the prefecture acknowledges, then the ARActe is valid @ctes, copies the act and is read back", () => {
    const xml = arActeXml(identifier, "2026-11-30", act, "2026-06-01");
    expect(validateActes(xml)).toEqual([]);
    expect(readActes(xml, (d) => d.text("/actes:ARActe/actes:ActeRecu/actes:Objet"))).toBe(act.objet);
    expect(readPrefectureMessage(xml)).toEqual({ kind: "ARActe", identifier, receivedOn: "2026-11-30", classificationVersionInForce: "2026-06-01" });
  });

  it("when the prefecture finds an anomaly, then the AnomalieActe says its nature and detail", () => {
    const xml = anomalieActeXml("2026-11-30", "002", "l'identifiant d'acte a déjà été transmis", act, "2026-01-01");
    expect(readPrefectureMessage(xml)).toEqual({ kind: "AnomalieActe", on: "2026-11-30", nature: "002", detail: "l'identifiant d'acte a déjà été transmis", classificationVersionInForce: "2026-01-01" });
  });

  it("when a cancellation goes and is acknowledged, and a letter comes, then each is valid and read back", () => {
    expect(validateActes(annulationXml(identifier))).toEqual([]);
    expect(readPrefectureMessage(arAnnulationXml(identifier, "2026-12-01"))).toEqual({ kind: "ARAnnulation", identifier, receivedOn: "2026-12-01" });
    expect(readPrefectureMessage(prefectureLetterXml("CourrierSimple", identifier, "2026-12-02", { document: `99_CO-${identifier}-2-1_1.pdf`, text: "ignored" }))).toEqual({
      kind: "Letter",
      letter: "CourrierSimple",
      identifier,
      on: "2026-12-02",
      documents: [`99_CO-${identifier}-2-1_1.pdf`],
    });
  });

  it("when a message is not valid @ctes, or is one the service does not take, then reading it says so", () => {
    expect(() => readPrefectureMessage(Buffer.from("<actes:ARActe/>"))).toThrow(MessageError);
    expect(() => readPrefectureMessage(annulationXml(identifier))).toThrow("the prefecture sent a Annulation, which the actes service does not take yet");
  });
});

describe("the prefecture's envelope", () => {
  it("when the prefecture sends a message, then its envelope names the prefecture, the file and the collectivity, and is valid", () => {
    expect(prefectureEnvelopeName("213502388", "2026-11-30", 3)).toBe("TACT--213502388--20261130-3.xml");
    const xml = prefectureEnvelopeXml("035", "213502388", [`${identifier}-1-2_0.xml`]);
    expect(validateActes(xml)).toEqual([]);
    expect(readActes(xml, (d) => d.all("//actes:NomFichier"))).toEqual([`${identifier}-1-2_0.xml`]);
  });
});

describe("the envelope anomaly", () => {
  it("when the prefecture cannot process an envelope it read, then the AnomalieEnveloppe copies it and is read back", () => {
    const xml = anomalieEnveloppeXml("2026-11-30", "003", "émetteur inconnu", {
      emitter: { siren: "123456789", departement: "035", arrondissement: 3, nature: "31", returnAddresses: ["actes-faux@mutualis.test"] },
      forms: [`${identifier}-1-1_0.xml`],
    });
    expect(validateActes(xml)).toEqual([]);
    expect(readPrefectureMessage(xml)).toEqual({ kind: "AnomalieEnveloppe", on: "2026-11-30", nature: "003", detail: "émetteur inconnu" });
  });
});
