import type { ActSubmission } from "./act.ts";

export const actesNamespace = "http://www.interieur.gouv.fr/ACTES#v1.1-20040216";

/** Who transmits: the collectivity as the prefecture knows it. */
export interface Emitter {
  readonly siren: string;
  readonly departement: string;
  readonly arrondissement: number;
  /** Nature of the collectivity in @ctes (e.g. 1 commune, 2 département… as the prefecture configured it). */
  readonly natureCollectivite: number;
  readonly referent: { readonly name: string; readonly email: string };
  readonly returnAddress: string;
}

function escape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** File names inside the archive: the internal number and a rank, never the agent's own name. */
export function archivedFileName(act: Pick<ActSubmission, "numeroInterne">, rank: number): string {
  return `${act.numeroInterne}-${rank}.pdf`;
}

/** The act's metadata file (`Acte`), as the prefecture's application reads it. */
export function acteXml(act: ActSubmission, classificationVersion: string): string {
  const matieres = act.classification
    .split(".")
    .map((code, i) => `  <actes:CodeMatiere${i + 1} actes:CodeMatiere="${code}"/>`)
    .join("\n");
  const annexes = act.annexes
    .map((_annex, i) => `    <actes:Annexe><actes:NomFichier>${escape(archivedFileName(act, i + 2))}</actes:NomFichier></actes:Annexe>`)
    .join("\n");
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<actes:Acte xmlns:actes="${actesNamespace}" actes:Date="${act.date}" actes:NumeroInterne="${act.numeroInterne}" actes:CodeNatureActe="${act.nature}">`,
    matieres,
    `  <actes:Objet>${escape(act.objet)}</actes:Objet>`,
    `  <actes:ClassificationDateVersion>${classificationVersion}</actes:ClassificationDateVersion>`,
    `  <actes:Document><actes:NomFichier>${escape(archivedFileName(act, 1))}</actes:NomFichier></actes:Document>`,
    act.annexes.length > 0 ? `  <actes:Annexes actes:Nombre="${act.annexes.length}">\n${annexes}\n  </actes:Annexes>` : `  <actes:Annexes actes:Nombre="0"/>`,
    `</actes:Acte>`,
  ].join("\n");
}

/** The transmission envelope (`EnveloppeCLMISILL`) naming the emitter and the metadata file. */
export function envelopeXml(emitter: Emitter, metadataFileName: string): string {
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<actes:EnveloppeCLMISILL xmlns:actes="${actesNamespace}" xmlns:insee="http://xml.insee.fr/schema">`,
    `  <actes:Emetteur>`,
    `    <actes:IDCL insee:SIREN="${emitter.siren}" actes:Departement="${emitter.departement}" actes:Arrondissement="${emitter.arrondissement}" actes:Nature="${emitter.natureCollectivite}"/>`,
    `    <actes:Referent><actes:Nom>${escape(emitter.referent.name)}</actes:Nom><actes:Email>${escape(emitter.referent.email)}</actes:Email></actes:Referent>`,
    `  </actes:Emetteur>`,
    `  <actes:AdressesRetour><actes:Email>${escape(emitter.returnAddress)}</actes:Email></actes:AdressesRetour>`,
    `  <actes:FormulairesEnvoyes><actes:Formulaire><actes:NomFichier>${escape(metadataFileName)}</actes:NomFichier></actes:Formulaire></actes:FormulairesEnvoyes>`,
    `</actes:EnveloppeCLMISILL>`,
  ].join("\n");
}
