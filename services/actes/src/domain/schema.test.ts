import { describe, expect, it } from "vitest";
import { validateActes } from "./schema.ts";

const namespaces = `xmlns:actes="http://www.interieur.gouv.fr/ACTES#v1.1-20040216" xmlns:insee="http://xml.insee.fr/schema"`;
const idActe = "035-213502388-20261128-D2026_001-DE";

/** An @ctes file as it travels: ISO-8859-1 bytes, with the declaration saying so. */
function latin1(root: string): Uint8Array {
  return Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>\n${root}\n`, "latin1");
}

const envelope = `<actes:EnveloppeCLMISILL ${namespaces}>
  <actes:Emetteur>
    <actes:IDCL insee:SIREN="213502388" actes:Departement="035" actes:Arrondissement="1" actes:Nature="31"/>
    <actes:Referent>
      <actes:Nom>Hélène Garçon, service des assemblées</actes:Nom>
      <actes:Telephone>02 99 28 55 55</actes:Telephone>
      <actes:Email>assemblees@rennes.mutualis.fr</actes:Email>
    </actes:Referent>
  </actes:Emetteur>
  <actes:AdressesRetour>
    <actes:Email>actes@rennes.mutualis.fr</actes:Email>
    <actes:Email>greffe@rennes.mutualis.fr</actes:Email>
  </actes:AdressesRetour>
  <actes:FormulairesEnvoyes>
    <actes:Formulaire><actes:NomFichier>${idActe}-1-1_0.xml</actes:NomFichier></actes:Formulaire>
  </actes:FormulairesEnvoyes>
</actes:EnveloppeCLMISILL>`;

const actFields = `
  <actes:CodeMatiere1 actes:CodeMatiere="7"/>
  <actes:CodeMatiere2 actes:CodeMatiere="1"/>
  <actes:CodeMatiere3 actes:CodeMatiere="2"/>
  <actes:Objet>Budget primitif 2027 : décision modificative n°1, à voter en séance</actes:Objet>
  <actes:PrecedentIdentifiantActe actes:IDActe="035-213502388-20261015-D2026_000-DE"/>
  <actes:ClassificationDateVersion>2026-01-01</actes:ClassificationDateVersion>
  <actes:Document><actes:NomFichier>99_DE-${idActe}-1-1_1.pdf</actes:NomFichier></actes:Document>
  <actes:Annexes actes:Nombre="1">
    <actes:Annexe><actes:NomFichier>99_AU-${idActe}-1-1_2.pdf</actes:NomFichier></actes:Annexe>
  </actes:Annexes>
  <actes:DocumentPapier>N</actes:DocumentPapier>`;
const actAttributes = `actes:Date="2026-11-28" actes:NumeroInterne="D2026_001" actes:CodeNatureActe="1"`;
const act = `<actes:Acte ${namespaces} ${actAttributes}>${actFields}
</actes:Acte>`;

const letter = `actes:IDActe="${idActe}" actes:DateCourrierPref="2026-12-10"`;
const document = `<actes:Document><actes:NomFichier>courrier.pdf</actes:NomFichier></actes:Document>`;

/** One valid example of each message of the exchanges, both ways. */
const exchanges: readonly (readonly [string, string])[] = [
  [
    "EnveloppeMISILLCL",
    `<actes:EnveloppeMISILLCL ${namespaces}>
      <actes:Emetteur><actes:IDPref actes:Departement="035"/><actes:Referent><actes:Nom>Bureau du contrôle de légalité</actes:Nom></actes:Referent></actes:Emetteur>
      <actes:FormulairesEnvoyes><actes:Formulaire><actes:NomFichier>${idActe}-1-2_0.xml</actes:NomFichier></actes:Formulaire></actes:FormulairesEnvoyes>
      <actes:Destinataire insee:SIREN="213502388"/>
    </actes:EnveloppeMISILLCL>`,
  ],
  [
    "AnomalieEnveloppe",
    `<actes:AnomalieEnveloppe ${namespaces}>
      <actes:Date>2026-11-29</actes:Date><actes:Nature>002</actes:Nature><actes:Detail>Fichier absent de l'archive</actes:Detail>
      <actes:EnveloppeRecue>
        <actes:Emetteur><actes:IDCL insee:SIREN="213502388" actes:Departement="035" actes:Arrondissement="1" actes:Nature="31"/></actes:Emetteur>
        <actes:AdressesRetour><actes:Email>actes@rennes.mutualis.fr</actes:Email></actes:AdressesRetour>
        <actes:FormulairesEnvoyes><actes:Formulaire><actes:NomFichier>${idActe}-1-1_0.xml</actes:NomFichier></actes:Formulaire></actes:FormulairesEnvoyes>
      </actes:EnveloppeRecue>
    </actes:AnomalieEnveloppe>`,
  ],
  [
    "ARActe",
    `<actes:ARActe ${namespaces} actes:IDActe="${idActe}" actes:DateReception="2026-11-29">
      <actes:ActeRecu ${actAttributes}>${actFields}</actes:ActeRecu>
      <actes:ClassificationDateVersionEnCours>2026-01-01</actes:ClassificationDateVersionEnCours>
    </actes:ARActe>`,
  ],
  [
    "AnomalieActe",
    `<actes:AnomalieActe ${namespaces}>
      <actes:Date>2026-11-29</actes:Date><actes:Nature>011</actes:Nature><actes:Detail>Classification périmée</actes:Detail>
      <actes:ActeRecu ${actAttributes}>${actFields}</actes:ActeRecu>
      <actes:ClassificationDateVersionEnCours>2026-06-01</actes:ClassificationDateVersionEnCours>
    </actes:AnomalieActe>`,
  ],
  ["CourrierSimple", `<actes:CourrierSimple ${namespaces} ${letter}>${document}</actes:CourrierSimple>`],
  ["ReponseCourrierSimple", `<actes:ReponseCourrierSimple ${namespaces} ${letter}>${document}</actes:ReponseCourrierSimple>`],
  [
    "DemandePieceComplementaire",
    `<actes:DemandePieceComplementaire ${namespaces} ${letter}>
      <actes:DescriptionPieces>Le procès-verbal de la séance</actes:DescriptionPieces>${document}
    </actes:DemandePieceComplementaire>`,
  ],
  ["ARDemandePieceComplementaire", `<actes:ARDemandePieceComplementaire ${namespaces} ${letter}/>`],
  ["RefusPieceComplementaire", `<actes:RefusPieceComplementaire ${namespaces} ${letter}>${document}</actes:RefusPieceComplementaire>`],
  [
    "PieceComplementaire",
    `<actes:PieceComplementaire ${namespaces} ${letter}>
      <actes:Documents>
        <actes:Document><actes:NomFichier>proces-verbal.pdf</actes:NomFichier></actes:Document>
        <actes:Document><actes:NomFichier>annexe.pdf</actes:NomFichier><actes:Signature/></actes:Document>
      </actes:Documents>
    </actes:PieceComplementaire>`,
  ],
  [
    "ARPieceComplementaire",
    `<actes:ARPieceComplementaire ${namespaces} actes:DateReception="2026-12-20"><actes:InfosCourrierPref ${letter}/></actes:ARPieceComplementaire>`,
  ],
  [
    "LettreObservations",
    `<actes:LettreObservations ${namespaces} ${letter}><actes:Motif>Délibération prise hors délai</actes:Motif>${document}</actes:LettreObservations>`,
  ],
  ["ARLettreObservations", `<actes:ARLettreObservations ${namespaces} ${letter}/>`],
  ["RejetLettreObservations", `<actes:RejetLettreObservations ${namespaces} ${letter}>${document}</actes:RejetLettreObservations>`],
  ["ReponseLettreObservations", `<actes:ReponseLettreObservations ${namespaces} ${letter}>${document}</actes:ReponseLettreObservations>`],
  [
    "ARReponseRejetLettreObservations",
    `<actes:ARReponseRejetLettreObservations ${namespaces} actes:DateReception="2026-12-20"><actes:InfosCourrierPref ${letter}/></actes:ARReponseRejetLettreObservations>`,
  ],
  [
    "DefereTA",
    `<actes:DefereTA ${namespaces} actes:IDActe="${idActe}">
      <actes:DateDepot>2027-01-15</actes:DateDepot><actes:NatureIllegalite>Incompétence de l'auteur</actes:NatureIllegalite>
      <actes:PiecesJointes><actes:PieceJointe><actes:NomFichier>requete.pdf</actes:NomFichier></actes:PieceJointe></actes:PiecesJointes>
    </actes:DefereTA>`,
  ],
  ["Annulation", `<actes:Annulation ${namespaces} actes:IDActe="${idActe}"/>`],
  ["ARAnnulation", `<actes:ARAnnulation ${namespaces} actes:IDActe="${idActe}" actes:DateReception="2026-12-01"/>`],
  ["DemandeClassification", `<actes:DemandeClassification ${namespaces}><actes:DateClassification>2026-01-01</actes:DateClassification></actes:DemandeClassification>`],
  ["DemandeClassification, with no classification yet", `<actes:DemandeClassification ${namespaces}/>`],
  [
    "ReponseClassificationSansChangement",
    `<actes:ReponseClassificationSansChangement ${namespaces}><actes:DateClassification>2026-01-01</actes:DateClassification></actes:ReponseClassificationSansChangement>`,
  ],
  [
    "RetourClassification",
    `<actes:RetourClassification ${namespaces}>
      <actes:DateClassification>2026-06-01</actes:DateClassification>
      <actes:NaturesActes>
        <actes:NatureActe actes:CodeNatureActe="1" actes:Libelle="Délibérations" actes:TypeAbrege="DE">
          <actes:TypePJNatureActe actes:CodeTypePJ="99_DE" actes:Libelle="Délibération"/>
          <actes:TypePJNatureActe actes:CodeTypePJ="41_NC" actes:Libelle="Note de synthèse"/>
        </actes:NatureActe>
        <actes:NatureActe actes:CodeNatureActe="3" actes:Libelle="Actes individuels" actes:TypeAbrege="AI">
          <actes:TypePJNatureActe actes:CodeTypePJ="99_AI" actes:Libelle="Arrêté individuel"/>
        </actes:NatureActe>
      </actes:NaturesActes>
      <actes:Matieres>
        <actes:Matiere1 actes:CodeMatiere="7" actes:Libelle="Finances locales">
          <actes:Matiere2 actes:CodeMatiere="1" actes:Libelle="Décisions budgétaires">
            <actes:Matiere3 actes:CodeMatiere="2" actes:Libelle="Décision modificative">
              <actes:Matiere4 actes:CodeMatiere="1" actes:Libelle="Fonctionnement">
                <actes:Matiere5 actes:CodeMatiere="3" actes:Libelle="Crédits reportés"/>
              </actes:Matiere4>
            </actes:Matiere3>
          </actes:Matiere2>
          <actes:Matiere2 actes:CodeMatiere="2" actes:Libelle="Fiscalité"/>
        </actes:Matiere1>
      </actes:Matieres>
    </actes:RetourClassification>`,
  ],
];

/** Documents the prefecture would refuse, each with a word the explanation must name. */
const refused: readonly (readonly [string, string, string])[] = [
  ["an act without DocumentPapier", act.replace("<actes:DocumentPapier>N</actes:DocumentPapier>", ""), "DocumentPapier"],
  ["an act with only CodeMatiere1", act.replace(/<actes:CodeMatiere[23] [^>]*\/>/g, ""), "CodeMatiere2"],
  ["an act whose DocumentPapier is neither O nor N", act.replace(">N</actes:DocumentPapier>", ">non</actes:DocumentPapier>"), "DocumentPapier"],
  ["an act with a nature of act 7", act.replace('actes:CodeNatureActe="1"', 'actes:CodeNatureActe="7"'), "CodeNatureActe"],
  ["an act whose NumeroInterne has 16 characters", act.replace('actes:NumeroInterne="D2026_001"', 'actes:NumeroInterne="D2026_001_ABCDEF"'), "NumeroInterne"],
  ["an act without its Date", act.replace('actes:Date="2026-11-28" ', ""), "Date"],
  ["an act whose Objet has 501 characters", act.replace(/<actes:Objet>[^<]*</, `<actes:Objet>${"é".repeat(501)}<`), "Objet"],
  ["an act whose Objet comes before its matières", act.replace(/(\s*<actes:CodeMatiere3 [^>]*\/>)(\s*<actes:Objet>[^<]*<\/actes:Objet>)/, "$2$1"), "CodeMatiere3"],
  ["an act whose Annexes come after DocumentPapier", act.replace(/(\s*<actes:Annexes[\s\S]*<\/actes:Annexes>)(\s*<actes:DocumentPapier>N<\/actes:DocumentPapier>)/, "$2$1"), "Annexes"],
  ["an act without the count of its annexes", act.replace(' actes:Nombre="1"', ""), "Nombre"],
  ["an act whose attributes are not namespace-qualified", act.replace(actAttributes, 'Date="2026-11-28" NumeroInterne="D2026_001" CodeNatureActe="1"'), "Date"],
  ["an act replacing an act whose identifier is malformed", act.replace("035-213502388-20261015-D2026_000-DE", "35-213502388-20261015-D2026_000-DE"), "IDActe"],
  ["an envelope whose collectivity has Nature 1", envelope.replace('actes:Nature="31"', 'actes:Nature="1"'), "Nature"],
  ["an envelope whose Arrondissement is 12", envelope.replace('actes:Arrondissement="1"', 'actes:Arrondissement="12"'), "Arrondissement"],
  ["an envelope whose Departement is 35", envelope.replace('actes:Departement="035"', 'actes:Departement="35"'), "Departement"],
  ["an envelope whose Departement has a '|'", envelope.replace('actes:Departement="035"', 'actes:Departement="|3A"'), "Departement"],
  ["an envelope whose SIREN has 8 digits", envelope.replace('insee:SIREN="213502388"', 'insee:SIREN="21350238"'), "SIREN"],
  [
    "a return address with a domain suffix longer than 6 letters",
    envelope.replace("actes@rennes.mutualis.fr", "actes@rennes.mutualis.invalid-domain-suffix"),
    "Email",
  ],
  ["a return address whose domain suffix has a digit", envelope.replace("actes@rennes.mutualis.fr", "actes@rennes.mutualis.fr2"), "Email"],
  ["an envelope without a return address", envelope.replace(/<actes:AdressesRetour>[\s\S]*<\/actes:AdressesRetour>/, "<actes:AdressesRetour/>"), "AdressesRetour"],
  ["an envelope whose return addresses come before the emitter", envelope.replace(/(\s*<actes:Emetteur>[\s\S]*<\/actes:Emetteur>)(\s*<actes:AdressesRetour>[\s\S]*<\/actes:AdressesRetour>)/, "$2$1"), "AdressesRetour"],
  ["an envelope naming no file", envelope.replace(/<actes:FormulairesEnvoyes>[\s\S]*<\/actes:FormulairesEnvoyes>/, "<actes:FormulairesEnvoyes/>"), "FormulairesEnvoyes"],
  ["a document whose root is not a message (IDCL alone)", `<actes:IDCL ${namespaces} insee:SIREN="213502388" actes:Departement="035" actes:Arrondissement="1" actes:Nature="31"/>`, "IDCL"],
  ["a message in another namespace", act.replace("ACTES#v1.1-20040216", "ACTES#v1.0"), "Acte"],
  ["a classification whose first-level matière has no sub-matière", exchanges.find(([name]) => name === "RetourClassification")![1].replace(/<actes:Matiere1 ([^>]*)>[\s\S]*<\/actes:Matiere1>/, "<actes:Matiere1 $1/>"), "Matiere1"],
];

describe("the @ctes v1.1 schema", () => {
  it("when an envelope is valid and written in ISO-8859-1 with accented letters, then it validates", () => {
    expect(validateActes(latin1(envelope))).toEqual([]);
  });

  it("when an act's metadata is valid and written in ISO-8859-1 with accented letters, then it validates", () => {
    expect(validateActes(latin1(act))).toEqual([]);
  });

  it("when an act's Objet has 500 accented letters, then they count as 500 characters and it validates", () => {
    expect(validateActes(latin1(act.replace(/<actes:Objet>[^<]*</, `<actes:Objet>${"é".repeat(500)}<`)))).toEqual([]);
  });

  it("when an act has five matières, no annexe and DocumentPapier nil, then it validates", () => {
    const full = act
      .replace('<actes:CodeMatiere3 actes:CodeMatiere="2"/>', '<actes:CodeMatiere3 actes:CodeMatiere="2"/><actes:CodeMatiere4 actes:CodeMatiere="1"/><actes:CodeMatiere5 actes:CodeMatiere="3"/>')
      .replace(/<actes:Annexes[\s\S]*<\/actes:Annexes>/, '<actes:Annexes actes:Nombre="0"/>')
      .replace("<actes:DocumentPapier>N</actes:DocumentPapier>", '<actes:DocumentPapier xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>');
    expect(validateActes(latin1(full))).toEqual([]);
  });

  it("when a document is in UTF-8 and says so, then it validates too", () => {
    expect(validateActes(Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${act}`, "utf8"))).toEqual([]);
  });

  it.each(exchanges)("when a valid %s is checked, then it validates", (_name, message) => {
    expect(validateActes(latin1(message))).toEqual([]);
  });

  it.each(refused)("when %s is checked, then it is refused, naming what is wrong", (_case, bad, named) => {
    const problems = validateActes(latin1(bad));
    expect(problems).not.toEqual([]);
    expect(problems.join("\n")).toContain(named);
  });

  it("when a document is refused, then each problem gives its line and the names with their usual prefix", () => {
    const problems = validateActes(latin1(envelope.replace('actes:Arrondissement="1"', 'actes:Arrondissement="12"')));
    expect(problems[0]).toMatch(/^line 4: .*actes:Arrondissement/);
    expect(problems.join("\n")).not.toContain("{http://");
  });

  it("when a document is not well-formed, then the parser's problem is given with its line", () => {
    const problems = validateActes(latin1(act.replace("</actes:Objet>", "</actes:Object>")));
    expect(problems[0]).toMatch(/^line 6: .*mismatch/);
  });
});
