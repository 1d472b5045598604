import { describe, expect, it } from "vitest";
import { actSubmission } from "./act.ts";
import { acteXml, envelopeXml } from "./envelope.ts";

const pdf = { fileName: "délibération <finale>.pdf", mimeType: "application/pdf", size: 1000, sha256: "b".repeat(64) };
const act = actSubmission.parse({
  numeroInterne: "D2026_001",
  nature: 1,
  classification: "7.1.2",
  objet: 'Budget "primitif" 2027 & décision modificative <n°1>',
  date: "2026-11-28",
  document: pdf,
  annexes: [pdf],
});

describe("the @ctes files", () => {
  it("when the act's metadata is written, then it carries the @ctes fields, one CodeMatiere per level, and escaped text", () => {
    const xml = acteXml(act, "2026-01-01");
    expect(xml).toContain('xmlns:actes="http://www.interieur.gouv.fr/ACTES#v1.1-20040216"');
    expect(xml).toContain('actes:Date="2026-11-28" actes:NumeroInterne="D2026_001" actes:CodeNatureActe="1"');
    expect(xml).toContain('<actes:CodeMatiere1 actes:CodeMatiere="7"/>');
    expect(xml).toContain('<actes:CodeMatiere3 actes:CodeMatiere="2"/>');
    expect(xml).toContain("<actes:Objet>Budget &quot;primitif&quot; 2027 &amp; décision modificative &lt;n°1&gt;</actes:Objet>");
    expect(xml).toContain('<actes:Annexes actes:Nombre="1">');
    // The agent's file names never reach the archive: no path tricks, no odd characters.
    expect(xml).not.toContain("finale");
  });

  it("when the envelope is written, then it names the emitter by SIREN and département", () => {
    const xml = envelopeXml(
      {
        siren: "213502388",
        departement: "035",
        arrondissement: 1,
        natureCollectivite: 1,
        referent: { name: "Service des assemblées", email: "assemblees@ville-rennes.example" },
        returnAddress: "actes@ville-rennes.example",
      },
      "D2026_001-acte.xml",
    );
    expect(xml).toContain('<actes:IDCL insee:SIREN="213502388" actes:Departement="035" actes:Arrondissement="1" actes:Nature="1"/>');
    expect(xml).toContain("<actes:NomFichier>D2026_001-acte.xml</actes:NomFichier>");
  });
});
