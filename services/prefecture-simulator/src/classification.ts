import type { Classification } from "@mutualis/actes";

/**
 * The classification the simulated prefectures send: the nine matières of the national
 * nomenclature of acts with their second level, and per nature the typologies of files it
 * allows. The typology codes are the simulator's (the real lists are each prefecture's own):
 * 99_ and the nature's letters for the act itself, then common annexes.
 */
const matieres: [string, string, string[]][] = [
  ["1", "Commande publique", ["Marchés publics", "Délégation de service public", "Conventions de mandat", "Autres types de contrats", "Transactions /protocole d'accord transactionnel", "Actes relatifs à la maîtrise d'oeuvre", "Actes spéciaux et divers"]],
  ["2", "Urbanisme", ["Documents d'urbanisme", "Actes relatifs au droit d'occupation ou d'utilisation des sols", "Droit de préemption urbain"]],
  ["3", "Domaine et patrimoine", ["Acquisitions", "Aliénations", "Locations", "Limites territoriales", "Autres actes de gestion du domaine public", "Autres actes de gestion du domaine privé"]],
  ["4", "Fonction publique", ["Personnels titulaires et stagiaires de la FPT", "Personnels contractuels", "Fonction publique hospitalière", "Autres catégories de personnels", "Régime indemnitaire"]],
  ["5", "Institutions et vie politique", ["Election exécutif", "Fonctionnement des assemblées", "Désignation de représentants", "Délégation de fonctions", "Délégation de signature", "Exercice des mandats locaux", "Intercommunalité", "Décision d'ester en justice"]],
  ["6", "Libertés publiques et pouvoirs de police", ["Police municipale", "Pouvoir du président du conseil départemental", "Pouvoir du président du conseil régional", "Autres actes réglementaires", "Actes pris au nom de l'Etat"]],
  ["7", "Finances locales", ["Décisions budgétaires", "Fiscalité", "Emprunts", "Interventions économiques", "Subventions", "Contributions budgétaires", "Avances", "Fonds de concours", "Prise de participation (SEM, etc.)", "Divers"]],
  ["8", "Domaines de compétences par thèmes", ["Enseignement", "Aide sociale", "Voirie", "Aménagement du territoire", "Politique de la ville-habitat-logement", "Emploi-formation professionnelle", "Transports", "Environnement", "Culture"]],
  ["9", "Autres domaines de compétences", ["Autres domaines de compétences des communes", "Autres domaines de compétences des départements", "Autres domaines de compétences des régions", "Voeux et motions"]],
];

const annexes = [
  { code: "99_AU", label: "Autre document" },
  { code: "41_NC", label: "Note de synthèse" },
  { code: "22_DP", label: "Délibération du conseil" },
  { code: "32_DP", label: "Plan" },
];

export function nationalClassification(date: string, extraMatieres: readonly { code: string; label: string }[] = []): Classification {
  return {
    date,
    natures: [
      { code: 1, label: "Délibérations", short: "DE", typologies: [{ code: "99_DE", label: "Délibération" }, ...annexes] },
      { code: 2, label: "Actes réglementaires", short: "AR", typologies: [{ code: "99_AR", label: "Arrêté réglementaire" }, ...annexes] },
      { code: 3, label: "Actes individuels", short: "AI", typologies: [{ code: "99_AI", label: "Arrêté individuel" }, ...annexes] },
      { code: 4, label: "Contrats, conventions et avenants", short: "CC", typologies: [{ code: "99_CC", label: "Contrat ou convention" }, ...annexes] },
      { code: 5, label: "Documents budgétaires et financiers", short: "BF", typologies: [{ code: "99_BF", label: "Document budgétaire" }, ...annexes] },
      { code: 6, label: "Autres", short: "AU", typologies: [{ code: "99_AU", label: "Autre document" }, ...annexes.slice(1)] },
    ],
    matieres: [
      ...matieres.flatMap(([code, label, children]) => [{ code, label }, ...children.map((child, i) => ({ code: `${code}.${i + 1}`, label: child }))]),
      ...extraMatieres,
    ].sort((a, b) => a.code.localeCompare(b.code, "en", { numeric: true })),
  };
}
