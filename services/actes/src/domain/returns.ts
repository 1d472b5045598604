import { acteElement, escape, fileElement, latin1Document, rootDeclarations, type ActMetadata } from "./envelope.ts";
import type { AnswerAcknowledgementKind, LetterKind } from "./letters.ts";
import { readActes, validateActes } from "./schema.ts";

/**
 * The @ctes messages about a transmitted act, both ways, as XML documents in ISO-8859-1 valid
 * against the project's @ctes schema, and what the collectivity reads of those it receives.
 */

/** The prefecture's envelope (`EnveloppeMISILLCL`) around its messages to a collectivity: who sends, to whom, which files. */
export function prefectureEnvelopeXml(departement: string, siren: string, forms: readonly string[]): Buffer {
  return latin1Document([
    `<actes:EnveloppeMISILLCL${rootDeclarations}>`,
    `<actes:Emetteur><actes:IDPref actes:Departement="${escape(departement)}"/></actes:Emetteur>`,
    `<actes:FormulairesEnvoyes>${forms.map((name) => fileElement("Formulaire", name)).join("")}</actes:FormulairesEnvoyes>`,
    `<actes:Destinataire insee:SIREN="${siren}"/>`,
    `</actes:EnveloppeMISILLCL>`,
  ]);
}

/** Prefecture → collectivity: the act is received (exchange 1-2), with a copy of its metadata. */
export function arActeXml(identifier: string, receivedOn: string, act: ActMetadata, classificationVersionInForce: string): Buffer {
  return latin1Document([
    `<actes:ARActe${rootDeclarations} actes:IDActe="${escape(identifier)}" actes:DateReception="${receivedOn}">`,
    ...acteElement(act, "ActeRecu"),
    `<actes:ClassificationDateVersionEnCours>${classificationVersionInForce}</actes:ClassificationDateVersionEnCours>`,
    `</actes:ARActe>`,
  ]);
}

/**
 * Why the prefecture's application refuses an act, as AnomalieActe's three-digit nature. The
 * published material names the element, not the codes' meanings: these are the simulator's own.
 */
export const anomalyNatures = {
  "001": "fichier ou nommage non conforme",
  "002": "identifiant d'acte déjà transmis",
  "003": "émetteur inconnu de la préfecture",
  "011": "classification périmée ou code inconnu",
} as const;

export type AnomalyNature = keyof typeof anomalyNatures;

/** Prefecture → collectivity: the act is refused (exchange 1-3), with why and a copy of its metadata. */
export function anomalieActeXml(on: string, nature: AnomalyNature, detail: string, act: ActMetadata, classificationVersionInForce: string): Buffer {
  return latin1Document([
    `<actes:AnomalieActe${rootDeclarations}>`,
    `<actes:Date>${on}</actes:Date>`,
    `<actes:Nature>${nature}</actes:Nature>`,
    `<actes:Detail>${escape(detail)}</actes:Detail>`,
    ...acteElement(act, "ActeRecu"),
    `<actes:ClassificationDateVersionEnCours>${classificationVersionInForce}</actes:ClassificationDateVersionEnCours>`,
    `</actes:AnomalieActe>`,
  ]);
}

/**
 * Why the prefecture's application cannot process an envelope, as AnomalieEnveloppe's nature
 * (the schema's values; their meanings here are the simulator's own).
 */
export const envelopeAnomalyNatures = {
  "001": "enveloppe ou archive non conforme",
  "002": "fichier annoncé absent",
  "003": "émetteur inconnu de la préfecture",
  "100": "autre",
} as const;

export type EnvelopeAnomalyNature = keyof typeof envelopeAnomalyNatures;

/** An envelope as the prefecture read it: enough to copy it back in an AnomalieEnveloppe. */
export interface ReceivedEnvelope {
  readonly emitter: { readonly siren: string; readonly departement: string; readonly arrondissement: number; readonly nature: string; readonly returnAddresses: readonly string[] };
  readonly forms: readonly string[];
}

/** Prefecture → collectivity: an envelope it could read but not process, copied back with why. */
export function anomalieEnveloppeXml(on: string, nature: EnvelopeAnomalyNature, detail: string, envelope: ReceivedEnvelope): Buffer {
  const { emitter } = envelope;
  return latin1Document([
    `<actes:AnomalieEnveloppe${rootDeclarations}>`,
    `<actes:Date>${on}</actes:Date>`,
    `<actes:Nature>${nature}</actes:Nature>`,
    `<actes:Detail>${escape(detail)}</actes:Detail>`,
    `<actes:EnveloppeRecue>`,
    `<actes:Emetteur><actes:IDCL insee:SIREN="${emitter.siren}" actes:Departement="${escape(emitter.departement)}" actes:Arrondissement="${emitter.arrondissement}" actes:Nature="${escape(emitter.nature)}"/></actes:Emetteur>`,
    `<actes:AdressesRetour>${emitter.returnAddresses.map((address) => `<actes:Email>${escape(address)}</actes:Email>`).join("")}</actes:AdressesRetour>`,
    `<actes:FormulairesEnvoyes>${envelope.forms.map((name) => fileElement("Formulaire", name)).join("")}</actes:FormulairesEnvoyes>`,
    `</actes:EnveloppeRecue>`,
    `</actes:AnomalieEnveloppe>`,
  ]);
}

/** Collectivity → prefecture: the cancellation of an acknowledged act (exchange 6-1). */
export function annulationXml(identifier: string): Buffer {
  return latin1Document([`<actes:Annulation${rootDeclarations} actes:IDActe="${escape(identifier)}"/>`]);
}

/** Prefecture → collectivity: the cancellation is received (exchange 6-2). */
export function arAnnulationXml(identifier: string, receivedOn: string): Buffer {
  return latin1Document([`<actes:ARAnnulation${rootDeclarations} actes:IDActe="${escape(identifier)}" actes:DateReception="${receivedOn}"/>`]);
}

/** A message from the prefecture, as the collectivity reads it. */
export type PrefectureMessage =
  | { readonly kind: "ARActe"; readonly identifier: string; readonly receivedOn: string; readonly classificationVersionInForce: string }
  | { readonly kind: "AnomalieActe"; readonly on: string; readonly nature: string; readonly detail: string; readonly classificationVersionInForce: string }
  | { readonly kind: "AnomalieEnveloppe"; readonly on: string; readonly nature: string; readonly detail: string }
  | { readonly kind: "ARAnnulation"; readonly identifier: string; readonly receivedOn: string }
  | {
      readonly kind: "Letter";
      readonly letter: LetterKind;
      readonly identifier: string;
      /** The letter's date (DateCourrierPref; for a referral, the day it was lodged). */
      readonly on: string;
      /** What it asks or says: the pieces asked for, the grounds, the illegality alleged. */
      readonly text?: string;
      readonly documents: readonly string[];
    }
  | { readonly kind: "AnswerAcknowledgement"; readonly acknowledgement: AnswerAcknowledgementKind; readonly identifier: string; readonly letterDate: string; readonly receivedOn: string };

/** Why a message from the prefecture cannot be taken: not valid @ctes, or not one the collectivity expects. */
export class MessageError extends Error {
  override name = "MessageError";
}

/** Reads a message of the prefecture after checking it against the @ctes schema. */
export function readPrefectureMessage(xml: Uint8Array): PrefectureMessage {
  const problems = validateActes(xml);
  if (problems.length > 0) throw new MessageError(`the prefecture's message does not follow the @ctes schema: ${problems.join("; ")}`);
  return readActes(xml, (document): PrefectureMessage => {
    switch (document.root) {
      case "ARActe":
        return {
          kind: "ARActe",
          identifier: document.text("/actes:ARActe/@actes:IDActe"),
          receivedOn: document.text("/actes:ARActe/@actes:DateReception"),
          classificationVersionInForce: document.text("/actes:ARActe/actes:ClassificationDateVersionEnCours"),
        };
      case "AnomalieActe":
        return {
          kind: "AnomalieActe",
          on: document.text("/actes:AnomalieActe/actes:Date"),
          nature: document.text("/actes:AnomalieActe/actes:Nature"),
          detail: document.text("/actes:AnomalieActe/actes:Detail"),
          classificationVersionInForce: document.text("/actes:AnomalieActe/actes:ClassificationDateVersionEnCours"),
        };
      case "AnomalieEnveloppe":
        return {
          kind: "AnomalieEnveloppe",
          on: document.text("/actes:AnomalieEnveloppe/actes:Date"),
          nature: document.text("/actes:AnomalieEnveloppe/actes:Nature"),
          detail: document.text("/actes:AnomalieEnveloppe/actes:Detail"),
        };
      case "ARAnnulation":
        return { kind: "ARAnnulation", identifier: document.text("/actes:ARAnnulation/@actes:IDActe"), receivedOn: document.text("/actes:ARAnnulation/@actes:DateReception") };
      case "CourrierSimple":
      case "DemandePieceComplementaire":
      case "LettreObservations": {
        const root = `/actes:${document.root}`;
        const text = document.text(document.root === "LettreObservations" ? `${root}/actes:Motif` : `${root}/actes:DescriptionPieces`);
        return {
          kind: "Letter",
          letter: document.root,
          identifier: document.text(`${root}/@actes:IDActe`),
          on: document.text(`${root}/@actes:DateCourrierPref`),
          ...(text ? { text } : {}),
          documents: document.all(`${root}/actes:Document/actes:NomFichier`),
        };
      }
      case "DefereTA":
        return {
          kind: "Letter",
          letter: "DefereTA",
          identifier: document.text("/actes:DefereTA/@actes:IDActe"),
          on: document.text("/actes:DefereTA/actes:DateDepot"),
          text: document.text("/actes:DefereTA/actes:NatureIllegalite"),
          documents: document.all("/actes:DefereTA/actes:PiecesJointes/actes:PieceJointe/actes:NomFichier"),
        };
      case "ARPieceComplementaire":
      case "ARReponseRejetLettreObservations": {
        const root = `/actes:${document.root}`;
        return {
          kind: "AnswerAcknowledgement",
          acknowledgement: document.root,
          identifier: document.text(`${root}/actes:InfosCourrierPref/@actes:IDActe`),
          letterDate: document.text(`${root}/actes:InfosCourrierPref/@actes:DateCourrierPref`),
          receivedOn: document.text(`${root}/@actes:DateReception`),
        };
      }
      default:
        throw new MessageError(`the prefecture sent a ${document.root}, which the actes service does not take yet`);
    }
  });
}
