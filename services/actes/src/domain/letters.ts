import { Conflict } from "@mutualis/service-kit";
import { escape, fileElement, latin1Document, rootDeclarations } from "./envelope.ts";
import type { ExchangeCode } from "./identifiers.ts";
import { readActes, validateActes } from "./schema.ts";

/**
 * The letters of the prefecture about a transmitted act, and what the collectivity answers:
 * @ctes exchanges 2 (simple letter), 3 (request for further documents), 4 (observations letter)
 * and 5 (referral to the administrative court). Each letter is an exchange of its own, with its
 * status and the code S²LOW gives it.
 */
export const letterKinds = {
  CourrierSimple: { exchange: "2-1", label: "Courrier simple", acknowledged: false },
  DemandePieceComplementaire: { exchange: "3-1", label: "Demande de pièces complémentaires", acknowledged: true },
  LettreObservations: { exchange: "4-1", label: "Lettre d'observations", acknowledged: true },
  DefereTA: { exchange: "5-1", label: "Déféré au tribunal administratif", acknowledged: false },
} as const satisfies Record<string, { exchange: ExchangeCode; label: string; acknowledged: boolean }>;

export type LetterKind = keyof typeof letterKinds;

/** A letter's status, with S²LOW's code. */
export const letterStatuses = {
  received: { s2low: 7, label: "Document reçu" },
  receivedNoAcknowledgement: { s2low: 21, label: "Document reçu (pas d'AR)" },
  acknowledgementSent: { s2low: 8, label: "Acquittement envoyé" },
  documentSent: { s2low: 9, label: "Document envoyé" },
  documentAcknowledged: { s2low: 11, label: "Acquittement de document reçu" },
} as const;

export type LetterStatus = keyof typeof letterStatuses;

/**
 * What the collectivity answers, by message: the letter it answers, its exchange code, whether it
 * carries documents (one letter, or several pieces), and the status it moves the letter from and to.
 */
export const answers = {
  ReponseCourrierSimple: { to: "CourrierSimple", exchange: "2-2", documents: "one", from: "receivedNoAcknowledgement", next: "documentSent" },
  ARDemandePieceComplementaire: { to: "DemandePieceComplementaire", exchange: "3-2", documents: "none", from: "received", next: "acknowledgementSent" },
  RefusPieceComplementaire: { to: "DemandePieceComplementaire", exchange: "3-3", documents: "one", from: "acknowledgementSent", next: "documentSent" },
  PieceComplementaire: { to: "DemandePieceComplementaire", exchange: "3-4", documents: "many", from: "acknowledgementSent", next: "documentSent" },
  ARLettreObservations: { to: "LettreObservations", exchange: "4-2", documents: "none", from: "received", next: "acknowledgementSent" },
  RejetLettreObservations: { to: "LettreObservations", exchange: "4-3", documents: "one", from: "acknowledgementSent", next: "documentSent" },
  ReponseLettreObservations: { to: "LettreObservations", exchange: "4-4", documents: "one", from: "acknowledgementSent", next: "documentSent" },
} as const satisfies Record<string, { to: LetterKind; exchange: ExchangeCode; documents: "none" | "one" | "many"; from: LetterStatus; next: LetterStatus }>;

export type AnswerKind = keyof typeof answers;

/** The prefecture's acknowledgements of the documents it received, by the letter they answer. */
export const answerAcknowledgements = {
  ARPieceComplementaire: { to: "DemandePieceComplementaire", exchange: "3-5" },
  ARReponseRejetLettreObservations: { to: "LettreObservations", exchange: "4-5" },
} as const satisfies Record<string, { to: LetterKind; exchange: ExchangeCode }>;

export type AnswerAcknowledgementKind = keyof typeof answerAcknowledgements;

/** The status a new letter starts in: waiting for the collectivity's acknowledgement, or not. */
export function initialLetterStatus(kind: LetterKind): LetterStatus {
  return letterKinds[kind].acknowledged ? "received" : "receivedNoAcknowledgement";
}

/** The letter's status after the collectivity sends `answer`, or a Conflict saying why it cannot now. */
export function statusAfterAnswer(kind: LetterKind, status: LetterStatus, answer: AnswerKind): LetterStatus {
  const rule = answers[answer];
  if (rule.to !== kind) throw new Conflict(`a ${answer} answers a ${rule.to}, not a ${kind}`);
  if (status !== rule.from) {
    throw new Conflict(`a ${letterKinds[kind].label.toLowerCase()} that is "${letterStatuses[status].label}" cannot take a ${answer} (it must be "${letterStatuses[rule.from].label}")`);
  }
  return rule.next;
}

const letterAttributes = (identifier: string, letterDate: string) => `actes:IDActe="${escape(identifier)}" actes:DateCourrierPref="${letterDate}"`;

/** Prefecture → collectivity: a letter about an act, its text in the PDF it names. */
export function prefectureLetterXml(
  kind: LetterKind,
  identifier: string,
  on: string,
  letter: { readonly document: string; readonly text: string; readonly attachments?: readonly string[] },
): Buffer {
  switch (kind) {
    case "CourrierSimple":
      return latin1Document([`<actes:CourrierSimple${rootDeclarations} ${letterAttributes(identifier, on)}>`, fileElement("Document", letter.document), `</actes:CourrierSimple>`]);
    case "DemandePieceComplementaire":
      return latin1Document([
        `<actes:DemandePieceComplementaire${rootDeclarations} ${letterAttributes(identifier, on)}>`,
        `<actes:DescriptionPieces>${escape(letter.text)}</actes:DescriptionPieces>`,
        fileElement("Document", letter.document),
        `</actes:DemandePieceComplementaire>`,
      ]);
    case "LettreObservations":
      return latin1Document([
        `<actes:LettreObservations${rootDeclarations} ${letterAttributes(identifier, on)}>`,
        `<actes:Motif>${escape(letter.text)}</actes:Motif>`,
        fileElement("Document", letter.document),
        `</actes:LettreObservations>`,
      ]);
    case "DefereTA":
      return latin1Document([
        `<actes:DefereTA${rootDeclarations} actes:IDActe="${escape(identifier)}">`,
        `<actes:DateDepot>${on}</actes:DateDepot>`,
        `<actes:NatureIllegalite>${escape(letter.text)}</actes:NatureIllegalite>`,
        `<actes:PiecesJointes>${[letter.document, ...(letter.attachments ?? [])].map((name) => fileElement("PieceJointe", name)).join("")}</actes:PiecesJointes>`,
        `</actes:DefereTA>`,
      ]);
  }
}

/** Collectivity → prefecture: the answer to a letter, naming the act and the letter's date, with its documents. */
export function answerXml(kind: AnswerKind, identifier: string, letterDate: string, documents: readonly string[]): Buffer {
  const attributes = letterAttributes(identifier, letterDate);
  switch (answers[kind].documents) {
    case "none":
      return latin1Document([`<actes:${kind}${rootDeclarations} ${attributes}/>`]);
    case "one":
      return latin1Document([`<actes:${kind}${rootDeclarations} ${attributes}>`, fileElement("Document", documents[0]!), `</actes:${kind}>`]);
    case "many":
      return latin1Document([
        `<actes:${kind}${rootDeclarations} ${attributes}>`,
        `<actes:Documents>${documents.map((name) => fileElement("Document", name)).join("")}</actes:Documents>`,
        `</actes:${kind}>`,
      ]);
  }
}

/** Prefecture → collectivity: the documents answering its letter are received. */
export function answerAcknowledgementXml(kind: AnswerAcknowledgementKind, identifier: string, letterDate: string, receivedOn: string): Buffer {
  return latin1Document([
    `<actes:${kind}${rootDeclarations} actes:DateReception="${receivedOn}">`,
    `<actes:InfosCourrierPref ${letterAttributes(identifier, letterDate)}/>`,
    `</actes:${kind}>`,
  ]);
}

/** A message of the collectivity about a transmitted act, as the prefecture reads it. */
export type CollectivityMessage =
  | { readonly kind: "Annulation"; readonly identifier: string }
  | { readonly kind: AnswerKind; readonly identifier: string; readonly letterDate: string; readonly documents: readonly string[] };

/** Reads a message of the collectivity (a cancellation, an answer to a letter), checked against the @ctes schema first. */
export function readCollectivityMessage(xml: Uint8Array): CollectivityMessage {
  const problems = validateActes(xml);
  if (problems.length > 0) throw new Error(`the message does not follow the @ctes schema: ${problems.join("; ")}`);
  return readActes(xml, (document): CollectivityMessage => {
    const root = `/actes:${document.root}`;
    if (document.root === "Annulation") return { kind: "Annulation", identifier: document.text(`${root}/@actes:IDActe`) };
    if (!(document.root in answers)) throw new Error(`a ${document.root} is not a message a collectivity sends about an act`);
    return {
      kind: document.root as AnswerKind,
      identifier: document.text(`${root}/@actes:IDActe`),
      letterDate: document.text(`${root}/@actes:DateCourrierPref`),
      documents: document.all(`${root}//actes:NomFichier`),
    };
  });
}
