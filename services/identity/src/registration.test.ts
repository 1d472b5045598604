import { describe, expect, it } from "vitest";
import { isValidSiret, registrationPage, registrationProblems } from "./registration.ts";

describe("a company's registration", () => {
  it.each([
    ["21350238800019", true, "the Ville de Rennes's seat"],
    ["73282932000074", true, "a company's establishment"],
    ["35600000000048", true, "La Poste's head office, by Luhn"],
    ["35600000049837", true, "a post office: its digits sum to a multiple of 5"],
    ["21350238800018", false, "a wrong check digit"],
    ["2135023880001", false, "13 digits"],
    ["2135023880001A", false, "a letter"],
  ])("SIRET %s is %s (%s)", (siret, valid) => {
    expect(isValidSiret(siret)).toBe(valid);
  });

  const good = { companyName: "Travaux de l’Ouest", siret: "73282932000074", givenName: "Nolwenn", usualName: "Le Bras", email: "nolwenn@travaux-ouest.example", password: "un-mot-de-passe-solide", confirmation: "un-mot-de-passe-solide" };

  it("a complete form has no problem; each wrong field is named in French", () => {
    expect(registrationProblems(good)).toEqual({});
    expect(registrationProblems({ ...good, siret: "123", email: "pas-une-adresse", password: "court", confirmation: "court" })).toEqual({
      siret: "Le numéro SIRET doit compter 14 chiffres et être valide.",
      email: "Indiquez une adresse électronique valide.",
      password: "Le mot de passe doit compter au moins 12 caractères.",
    });
    expect(registrationProblems({ ...good, confirmation: "un-autre-mot-de-passe" })).toEqual({ confirmation: "Les deux mots de passe ne sont pas identiques." });
  });

  it("the page ties each error to its field, lists them in an alert, focuses the first and never echoes a password", () => {
    const html = registrationPage({ ...good, siret: "123" }, { siret: "Le numéro SIRET doit compter 14 chiffres et être valide." });
    expect(html).toContain('lang="fr"');
    expect(html).toContain('role="alert"');
    expect(html).toMatch(/<input id="siret"[^>]*aria-describedby="siret-aide siret-erreur"[^>]*aria-invalid="true" autofocus>/);
    expect(html).toContain('<a href="#siret">');
    expect(html).not.toContain("un-mot-de-passe-solide");
  });
});
