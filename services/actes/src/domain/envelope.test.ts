import { describe, expect, it } from "vitest";
import { acteXml, envelopeXml, type ActMetadata, type Emitter } from "./envelope.ts";
import { validateActes } from "./schema.ts";

const act: ActMetadata = {
  numeroInterne: "D2026_001",
  nature: 1,
  classification: "7.1.2",
  objet: 'Budget "primitif" 2027 & décision modificative <n°1> de la régie',
  date: "2026-11-28",
  documentPapier: false,
  classificationVersion: "2026-01-01",
  document: { name: "99_DE-035-213502388-20261128-D2026_001-DE-1-1_1.pdf" },
  annexes: ["99_AU-035-213502388-20261128-D2026_001-DE-1-1_2.pdf"],
};

const rennes: Emitter = {
  siren: "213502388",
  departement: "035",
  arrondissement: 3,
  nature: "31",
  referent: { name: "Service des assemblées – Œuvres", email: "actes-rennes@mutualis.test" },
  returnAddresses: ["actes-rennes@mutualis.test"],
};

describe("the @ctes files", () => {
  it("when the act's metadata is written, then it is ISO-8859-1, valid against the schema, with one CodeMatiere per level and DocumentPapier", () => {
    const xml = acteXml(act);
    expect(validateActes(xml)).toEqual([]);
    const text = xml.toString("latin1");
    expect(text.startsWith('<?xml version="1.0" encoding="ISO-8859-1"?>')).toBe(true);
    // é is one byte in latin-1, two in UTF-8.
    expect(xml.includes(Buffer.from("décision", "latin1"))).toBe(true);
    expect(text).toContain('<actes:CodeMatiere1 actes:CodeMatiere="7"/>');
    expect(text).toContain('<actes:CodeMatiere3 actes:CodeMatiere="2"/>');
    expect(text).toContain("<actes:Objet>Budget &quot;primitif&quot; 2027 &amp; décision modificative &lt;n°1&gt; de la régie</actes:Objet>");
    expect(text).toContain("<actes:DocumentPapier>N</actes:DocumentPapier>");
    expect(text).toContain('<actes:Annexes actes:Nombre="1">');
  });

  it("when the act replaces an earlier one, is also on paper and has no annex, then the metadata says so and stays valid", () => {
    const xml = acteXml({ ...act, precedent: "035-213502388-20261001-D2026_000-DE", documentPapier: true, annexes: [] });
    expect(validateActes(xml)).toEqual([]);
    expect(xml.toString("latin1")).toContain('<actes:PrecedentIdentifiantActe actes:IDActe="035-213502388-20261001-D2026_000-DE"/>');
    expect(xml.toString("latin1")).toContain("<actes:DocumentPapier>O</actes:DocumentPapier>");
  });

  it("when a signed act is written, then its document carries its signature file", () => {
    const xml = acteXml({ ...act, document: { ...act.document, signature: "MIIB...base64" } });
    expect(validateActes(xml)).toEqual([]);
  });

  it("when the envelope is written, then it names the emitter as the prefecture registered it and is valid", () => {
    const xml = envelopeXml(rennes, ["035-213502388-20261128-D2026_001-DE-1-1_0.xml"]);
    expect(validateActes(xml)).toEqual([]);
    const text = xml.toString("latin1");
    expect(text).toContain('<actes:IDCL insee:SIREN="213502388" actes:Departement="035" actes:Arrondissement="3" actes:Nature="31"/>');
    // – and Œ have no byte in latin-1: written as character references, nothing lost.
    expect(text).toContain("Service des assemblées &#x2013; &#x152;uvres");
    expect(text).toContain("<actes:NomFichier>035-213502388-20261128-D2026_001-DE-1-1_0.xml</actes:NomFichier>");
  });

  it("when the envelope's return address has a suffix the schema refuses, then the schema says so", () => {
    const problems = validateActes(envelopeXml({ ...rennes, returnAddresses: ["actes@rennes.mutualis.invalid"] }, ["x_0.xml"]));
    expect(problems.join("\n")).toContain("actes:Email");
  });

  it("when a classification has one level, then no metadata is written", () => {
    expect(() => acteXml({ ...act, classification: "7" })).toThrow(/two to five levels/);
  });
});
