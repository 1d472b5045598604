import type { NatureCode } from "./act.ts";

export const actesNamespace = "http://www.interieur.gouv.fr/ACTES#v1.1-20040216";
export const inseeNamespace = "http://xml.insee.fr/schema";

/** Who transmits: the collectivity as the prefecture registered it. */
export interface Emitter {
  readonly siren: string;
  /** Three characters: 035, 02A, 974. */
  readonly departement: string;
  readonly arrondissement: number;
  /** The kind of authority, two digits (31 commune, 44 communauté de communes…). */
  readonly nature: string;
  readonly referent?: { readonly name: string; readonly email?: string };
  /** Where the prefecture's answers go, at least one. */
  readonly returnAddresses: readonly string[];
}

/** The act's metadata as the `Acte` file carries it: the fields, and the names its files have in the archive. */
export interface ActMetadata {
  readonly date: string;
  readonly numeroInterne: string;
  readonly nature: NatureCode;
  /** Two to five levels, "7.1.2". */
  readonly classification: string;
  readonly objet: string;
  readonly precedent?: string;
  readonly documentPapier: boolean;
  readonly classificationVersion: string;
  readonly document: { readonly name: string; readonly signature?: string };
  readonly annexes: readonly string[];
}

/**
 * Text made safe for an XML file written in ISO-8859-1: markup characters escaped, and the rare
 * character latin-1 has no byte for written as a character reference, so nothing is lost.
 */
export function escape(text: string): string {
  return text.replace(/[<>&"']|[\u0100-\u{10ffff}]/gu, (c) =>
    c.length === 1 && "<>&\"'".includes(c) ? { "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" }[c]! : `&#x${c.codePointAt(0)!.toString(16).toUpperCase()};`,
  );
}

/** An XML document as @ctes exchanges it: declared and encoded ISO-8859-1. */
export function latin1Document(lines: readonly string[]): Buffer {
  return Buffer.from([`<?xml version="1.0" encoding="ISO-8859-1"?>`, ...lines].join("\n") + "\n", "latin1");
}

export const fileElement = (element: string, name: string, signature?: string) =>
  `<actes:${element}><actes:NomFichier>${escape(name)}</actes:NomFichier>${signature ? `<actes:Signature>${escape(signature)}</actes:Signature>` : ""}</actes:${element}>`;

/**
 * The act's metadata as an element: `Acte`, the root of the metadata file, or `ActeRecu`, the copy
 * the prefecture sends back in its acknowledgement and anomalies. In the order and form of the
 * @ctes v1.1 schema.
 */
export function acteElement(act: ActMetadata, element: "Acte" | "ActeRecu", declarations = ""): string[] {
  const levels = act.classification.split(".");
  if (levels.length < 2 || levels.length > 5) throw new Error(`the classification ${act.classification} must have two to five levels`);
  return [
    `<actes:${element}${declarations} actes:Date="${act.date}" actes:NumeroInterne="${escape(act.numeroInterne)}" actes:CodeNatureActe="${act.nature}">`,
    ...levels.map((code, i) => `  <actes:CodeMatiere${i + 1} actes:CodeMatiere="${Number(code)}"/>`),
    `  <actes:Objet>${escape(act.objet)}</actes:Objet>`,
    ...(act.precedent ? [`  <actes:PrecedentIdentifiantActe actes:IDActe="${escape(act.precedent)}"/>`] : []),
    `  <actes:ClassificationDateVersion>${act.classificationVersion}</actes:ClassificationDateVersion>`,
    `  ${fileElement("Document", act.document.name, act.document.signature)}`,
    act.annexes.length > 0
      ? [`  <actes:Annexes actes:Nombre="${act.annexes.length}">`, ...act.annexes.map((name) => `    ${fileElement("Annexe", name)}`), `  </actes:Annexes>`].join("\n")
      : `  <actes:Annexes actes:Nombre="0"/>`,
    `  <actes:DocumentPapier>${act.documentPapier ? "O" : "N"}</actes:DocumentPapier>`,
    `</actes:${element}>`,
  ];
}

/** The namespace declarations of an @ctes document's root. */
export const rootDeclarations = ` xmlns:actes="${actesNamespace}" xmlns:insee="${inseeNamespace}"`;

/** The act's metadata file (`Acte`, exchange 1-1). */
export function acteXml(act: ActMetadata): Buffer {
  return latin1Document(acteElement(act, "Acte", rootDeclarations));
}

/** The transmission envelope (`EnveloppeCLMISILL`): who sends, where to answer, and the metadata files it carries. */
export function envelopeXml(emitter: Emitter, forms: readonly string[]): Buffer {
  const referent = emitter.referent
    ? [
        `    <actes:Referent>`,
        `      <actes:Nom>${escape(emitter.referent.name)}</actes:Nom>`,
        ...(emitter.referent.email ? [`      <actes:Email>${escape(emitter.referent.email)}</actes:Email>`] : []),
        `    </actes:Referent>`,
      ]
    : [];
  return latin1Document([
    `<actes:EnveloppeCLMISILL xmlns:actes="${actesNamespace}" xmlns:insee="${inseeNamespace}">`,
    `  <actes:Emetteur>`,
    `    <actes:IDCL insee:SIREN="${emitter.siren}" actes:Departement="${escape(emitter.departement)}" actes:Arrondissement="${emitter.arrondissement}" actes:Nature="${escape(emitter.nature)}"/>`,
    ...referent,
    `  </actes:Emetteur>`,
    `  <actes:AdressesRetour>`,
    ...emitter.returnAddresses.map((address) => `    <actes:Email>${escape(address)}</actes:Email>`),
    `  </actes:AdressesRetour>`,
    `  <actes:FormulairesEnvoyes>`,
    ...forms.map((name) => `    ${fileElement("Formulaire", name)}`),
    `  </actes:FormulairesEnvoyes>`,
    `</actes:EnveloppeCLMISILL>`,
  ]);
}
