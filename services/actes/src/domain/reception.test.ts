import { describe, expect, it } from "vitest";
import { readArchive, writeArchive, type ArchivedFile } from "./archive.ts";
import type { Emitter } from "./envelope.ts";
import { transmissionNames } from "./identifiers.ts";
import { Anomaly, receiveTransmission } from "./reception.ts";
import { transmissionArchive, type ActToTransmit } from "./transmission.ts";

const pdf = Buffer.from("%PDF-1.7\n% délibération\n%%EOF\n", "latin1");
const act: ActToTransmit = {
  date: "2026-11-28",
  numeroInterne: "D2026_001",
  nature: 1,
  classification: "7.1.2",
  objet: "Élection du maire : délégations à l'adjoint, « garçon » et façade",
  files: [
    { typology: "99_DE", mimeType: "application/pdf", content: pdf },
    { typology: "99_AU", mimeType: "application/pdf", content: pdf },
  ],
};
const emitter: Emitter = { siren: "213502388", departement: "035", arrondissement: 3, nature: "31", returnAddresses: ["actes-rennes@mutualis.test"] };
const identifier = "035-213502388-20261128-D2026_001-DE";
const names = transmissionNames("MUT", "213502388", "2026-11-30", 2);
const { archive } = transmissionArchive(act, emitter, { identifier, envelope: names.envelope }, "2026-01-01");

/** The archive with its files changed by `change`. */
function tampered(change: (files: ArchivedFile[]) => ArchivedFile[]): Buffer {
  return writeArchive(change(readArchive(archive, 1 << 20)));
}

function anomaly(archiveName: string, content: Uint8Array): string {
  try {
    receiveTransmission(archiveName, content, 1 << 20);
  } catch (error) {
    if (error instanceof Anomaly) return error.message;
    throw error;
  }
  return "accepted";
}

describe("a transmission as the prefecture receives it", () => {
  it("when the platform's own archive arrives, then the prefecture reads the emitter, the act and its files, latin-1 text intact", () => {
    const received = receiveTransmission(names.archive, archive, 1 << 20);
    expect(received.identifier).toBe(identifier);
    expect(received.emitter).toEqual({ siren: "213502388", departement: "035", arrondissement: 3, nature: "31", returnAddresses: ["actes-rennes@mutualis.test"] });
    expect(received.act).toEqual({
      date: "2026-11-28",
      numeroInterne: "D2026_001",
      nature: 1,
      classification: "7.1.2",
      classificationVersion: "2026-01-01",
      objet: "Élection du maire : délégations à l'adjoint, « garçon » et façade",
      documentPapier: false,
    });
    expect(received.files.map((f) => f.name)).toEqual([
      "99_DE-035-213502388-20261128-D2026_001-DE-1-1_1.pdf",
      "99_AU-035-213502388-20261128-D2026_001-DE-1-1_2.pdf",
    ]);
    expect(readArchive(archive, 1 << 20).map((f) => f.name)).toEqual([
      "EACT--213502388--20261130-2.xml",
      "035-213502388-20261128-D2026_001-DE-1-1_0.xml",
      "99_DE-035-213502388-20261128-D2026_001-DE-1-1_1.pdf",
      "99_AU-035-213502388-20261128-D2026_001-DE-1-1_2.pdf",
    ]);
  });

  it("when the act replaces another, then the prefecture reads which", () => {
    const { archive: replacing } = transmissionArchive({ ...act, precedent: "035-213502388-20261001-D2026_000-DE" }, emitter, { identifier, envelope: names.envelope }, "2026-01-01");
    expect(receiveTransmission(names.archive, replacing, 1 << 20).act.precedent).toBe("035-213502388-20261001-D2026_000-DE");
  });

  const metadata = "035-213502388-20261128-D2026_001-DE-1-1_0.xml";
  const latin1 = (text: string) => Buffer.from(text, "latin1");
  it.each([
    ["an archive name without the transmitter", "EACT--213502388--20261130-2.tar.gz", archive, "n'est pas de la forme"],
    ["an archive name of another SIREN", "MUT-EACT--212900195--20261130-2.tar.gz", archive, "l'archive ne contient pas l'enveloppe EACT--212900195--20261130-2.xml"],
    ["a file that is not an archive", names.archive, Buffer.from("%PDF-1.7"), "archive illisible"],
    ["no envelope", names.archive, tampered((files) => files.slice(1)), "ne contient pas l'enveloppe"],
    [
      "an envelope with Nature 1",
      names.archive,
      tampered((files) => files.map((f) => (f.name === names.envelope ? { ...f, content: latin1(Buffer.from(f.content).toString("latin1").replace('actes:Nature="31"', 'actes:Nature="1"')) } : f))),
      "n'est pas conforme au schéma @ctes v1.1",
    ],
    [
      "an act without DocumentPapier",
      names.archive,
      tampered((files) => files.map((f) => (f.name === metadata ? { ...f, content: latin1(Buffer.from(f.content).toString("latin1").replace(/ *<actes:DocumentPapier>N<\/actes:DocumentPapier>\n/, "")) } : f))),
      "anomalie enveloppe : 035-213502388-20261128-D2026_001-DE-1-1_0.xml n'est pas conforme au schéma",
    ],
    ["a missing annex", names.archive, tampered((files) => files.filter((f) => !f.name.endsWith("_2.pdf"))), "_2.pdf annoncé par le formulaire est absent"],
    ["a file nothing names", names.archive, tampered((files) => [...files, { name: "notes.txt", content: Buffer.from("x") }]), "des fichiers que rien n'annonce : notes.txt"],
    ["a document that is not a PDF", names.archive, tampered((files) => files.map((f) => (f.name.endsWith("_1.pdf") ? { ...f, content: Buffer.from("MZ") } : f))), "_1.pdf n'est pas un fichier PDF"],
  ])("when it has %s, then it is refused with the anomaly", (_case, archiveName, content, message) => {
    expect(anomaly(archiveName, content)).toContain(message);
  });

  it("when the files are named for another act, then the prefecture says which name it expected", () => {
    const { archive: other } = transmissionArchive(act, emitter, { identifier: "035-213502388-20261128-D2026_002-DE", envelope: names.envelope }, "2026-01-01");
    expect(anomaly(names.archive, other)).toContain("le formulaire devrait s'appeler 035-213502388-20261128-D2026_001-DE-1-1_0.xml");
  });
});
