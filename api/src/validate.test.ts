import { describe, expect, it } from "vitest";
import { isValidSiren, isValidSiret, siretWithCheckDigit, validateCollectivitySpec, validateSecureShareSpec, validateServiceInstanceSpec, ValidationError } from "./validate.ts";

describe("isValidSiren", () => {
  it.each([
    ["213502388", true, "Ville de Rennes"],
    ["212900195", true, "Ville de Brest"],
    ["212902324", true, "Ville de Quimper"],
    ["223500018", true, "Département d'Ille-et-Vilaine"],
    ["233500016", true, "Région Bretagne"],
    ["243500139", true, "Rennes Métropole"],
    ["213502389", false, "a wrong check digit"],
    ["21350238", false, "eight digits"],
    ["2135023881", false, "ten digits"],
    ["21350238A", false, "a letter"],
  ])("when the SIREN is %s (%s), then it is valid: %s", (siren, valid) => {
    expect(isValidSiren(siren)).toBe(valid);
  });
});

describe("validateCollectivitySpec", () => {
  const rennes = { displayName: "Ville de Rennes", siren: "213502388", category: "commune", zone: "fr-bzh-1a" };

  it("when the spec is valid, then defaults are filled in and the input is left unchanged", () => {
    const input = structuredClone(rennes);
    const spec = validateCollectivitySpec(input);
    expect(spec.deletionPolicy).toBe("Retain");
    expect(spec.suspended).toBe(false);
    expect(input).toEqual(rennes);
  });

  it("when several fields are wrong, then every problem is named", () => {
    const attempt = () => validateCollectivitySpec({ ...rennes, category: "village", population: -1 });
    expect(attempt).toThrow(ValidationError);
    expect(attempt).toThrow(/category: must be one of "commune", "epci"/);
    expect(attempt).toThrow(/population: must be >= 0/);
  });

  it.each([
    ["a département of two digits", { departement: "35", arrondissement: 3, nature: "31" }, /actes.departement: must match pattern/],
    ["an arrondissement of two digits", { departement: "035", arrondissement: 12, nature: "31" }, /actes.arrondissement: must be <= 9/],
    ["a nature of one digit", { departement: "035", arrondissement: 3, nature: "1" }, /actes.nature: must be one of "11"/],
    ["no nature", { departement: "035", arrondissement: 3 }, /actes: must have required property 'nature'/],
    ["a SIRET whose check digit is wrong", { departement: "035", arrondissement: 3, nature: "31", siret: "21350238800018" }, /actes.siret: this is not a valid SIRET/],
    ["the SIRET of another SIREN", { departement: "035", arrondissement: 3, nature: "31", siret: "21290019500018" }, /actes.siret: must begin with the collectivity's SIREN/],
  ])("when its @ctes identification has %s, then it is refused saying so", (_case, actes, message) => {
    expect(() => validateCollectivitySpec({ ...rennes, actes })).toThrow(message);
  });

  it("when its @ctes identification is complete, then it is accepted as given", () => {
    const actes = { departement: "035", arrondissement: 3, nature: "31", siret: "21350238800019" };
    expect(validateCollectivitySpec({ ...rennes, actes }).actes).toEqual(actes);
    expect(validateCollectivitySpec({ ...rennes, siren: "200067007", actes: { departement: "02A", arrondissement: 0, nature: "44" } }).actes?.departement).toBe("02A");
  });

  it("when a SIRET is made for a SIREN, then it passes its own check", () => {
    expect(siretWithCheckDigit("213502388")).toBe("21350238800019");
    expect(isValidSiret("21350238800019")).toBe(true);
    expect(isValidSiret("2135023880001")).toBe(false);
  });

  it("when the SIREN's check digit is wrong, then it is refused", () => {
    expect(() => validateCollectivitySpec({ ...rennes, siren: "213502389" })).toThrow(/check digit/);
  });

  it("when an administrator is one of the cluster's own system: names, then it is refused", () => {
    expect(() => validateCollectivitySpec({ ...rennes, administrators: { groups: ["system:masters"] } })).toThrow(/system:masters: system: names are the cluster's own/);
    expect(() => validateCollectivitySpec({ ...rennes, administrators: { users: ["system:admin"] } })).toThrow(/system:admin/);
    expect(validateCollectivitySpec({ ...rennes, administrators: { users: ["dsi@ville-rennes.example"] } }).administrators?.users).toEqual(["dsi@ville-rennes.example"]);
  });

  it("when the name holds a control character, then it is refused; accents and apostrophes are kept", () => {
    expect(() => validateCollectivitySpec({ ...rennes, displayName: "Rennes\nAdmin" })).toThrow(/displayName: must not contain control characters/);
    expect(() => validateCollectivitySpec({ ...rennes, displayName: "Rennes\u007f" })).toThrow(/control characters/);
    expect(validateCollectivitySpec({ ...rennes, displayName: "Communauté de communes du Pays d'Iroise" }).displayName).toBe("Communauté de communes du Pays d'Iroise");
  });
});

describe("validateSecureShareSpec", () => {
  const share = { recipients: [{ email: "titulaire@entreprise.example" }] };
  it.each(["database", "nats-credentials", "marche-links"])("when the password is in the platform's Secret %s, then it is refused", (name) => {
    expect(() => validateSecureShareSpec({ ...share, passwordSecretRef: { name } })).toThrow(/passwordSecretRef.name: names a Secret the platform manages/);
  });

  it("when the password is in a Secret of the collectivity's own, then it is accepted", () => {
    expect(validateSecureShareSpec({ ...share, passwordSecretRef: { name: "mot-de-passe-marche" } }).passwordSecretRef).toEqual({ name: "mot-de-passe-marche", key: "password" });
  });
});

describe("validateServiceInstanceSpec", () => {
  it("when the service is unknown, then the error lists the known ones", () => {
    expect(() => validateServiceInstanceSpec({ service: "bingo" })).toThrow(/service: must be one of "actes", "helios"/);
  });

  it("when only the service is given, then plan and tenancy take their defaults", () => {
    expect(validateServiceInstanceSpec({ service: "actes" })).toEqual({ service: "actes", plan: "standard", tenancy: "shared" });
  });

  it("when the settings are too many or too large, then they are refused", () => {
    expect(() => validateServiceInstanceSpec({ service: "sesf", settings: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`s${i}`, 1])) })).toThrow(/settings: must NOT have more than 32 properties/);
    expect(() => validateServiceInstanceSpec({ service: "sesf", settings: { note: "x".repeat(9000) } })).toThrow(/settings: must hold at most 8192 bytes/);
  });
});
