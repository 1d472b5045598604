import { describe, expect, it } from "vitest";
import { classificationProblems, demandeClassificationXml, readClassificationAnswer, retourClassificationXml, unchangedClassificationXml, type Classification } from "./classification.ts";
import { validateActes } from "./schema.ts";

const classification: Classification = {
  date: "2026-06-01",
  natures: [
    { code: 1, label: "Délibérations", short: "DE", typologies: [{ code: "99_DE", label: "Délibération" }, { code: "41_NC", label: "Note de synthèse" }] },
    { code: 3, label: "Actes individuels", short: "AI", typologies: [{ code: "99_AI", label: "Arrêté individuel" }] },
  ],
  matieres: [
    { code: "5", label: "Institutions et vie politique" },
    { code: "5.1", label: "Election exécutif" },
    { code: "7", label: "Finances locales" },
    { code: "7.1", label: "Décisions budgétaires" },
    { code: "7.1.2", label: "Décision modificative" },
    { code: "7.1.2.1", label: "Fonctionnement" },
    { code: "7.1.2.1.3", label: "Crédits reportés" },
    { code: "7.10", label: "Divers" },
  ],
};

describe("the classification (exchange 7)", () => {
  it("when the prefecture sends its classification, then it is valid @ctes and read back whole, five levels deep", () => {
    const xml = retourClassificationXml(classification);
    expect(validateActes(xml)).toEqual([]);
    expect(readClassificationAnswer(xml)).toEqual({ classification });
  });

  it("when the collectivity asks, naming the version it has, then the request is valid; an unchanged answer says which is in force", () => {
    expect(validateActes(demandeClassificationXml("2026-01-01"))).toEqual([]);
    expect(validateActes(demandeClassificationXml())).toEqual([]);
    expect(readClassificationAnswer(unchangedClassificationXml("2026-06-01"))).toEqual({ unchanged: "2026-06-01" });
    expect(() => readClassificationAnswer(demandeClassificationXml())).toThrow("answered a classification request with a DemandeClassification");
  });

  it("when an act is checked against it, then unknown matières, natures and typologies are named with what is allowed", () => {
    const check = (nature: 1 | 3 | 5, code: string, typologies: string[]) =>
      classificationProblems(classification, { nature, classification: code, files: typologies.map((typology, i) => ({ where: i === 0 ? "document" : `annexes.${i - 1}`, typology })) });
    expect(check(1, "7.1.2", ["99_DE", "41_NC"])).toEqual([]);
    expect(check(1, "7.10", ["99_DE"])).toEqual([]);
    expect(check(1, "7.11", ["99_DE"])).toEqual(["classification: 7.11 is not a matière of the classification of 2026-06-01"]);
    expect(check(3, "5.1", ["99_AI", "41_NC"])).toEqual(["annexes.0.typology: 41_NC is not a typology of actes individuels (allowed: 99_AI)"]);
    expect(check(5, "7.1", ["99_BF"])).toEqual(["nature: the classification of 2026-06-01 has no nature 5 (Document budgétaire et financier)"]);
  });
});
