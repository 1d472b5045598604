import { looksLikePdf, looksLikeXml, type NatureCode } from "./act.ts";
import { ArchiveError, readArchive, type ArchivedFile } from "./archive.ts";
import type { ActMetadata } from "./envelope.ts";
import type { ReceivedEnvelope } from "./returns.ts";
import { actIdentifier, exchangeFileNames } from "./identifiers.ts";
import { readActes, validateActes } from "./schema.ts";

/**
 * Why the prefecture's application does not take a transmission: the envelope (or the archive
 * that carries it) cannot be processed, or the act it carries is not acceptable. The detail is
 * in French, as the anomaly the collectivity receives.
 */
export class Anomaly extends Error {
  override name = "Anomaly";
  constructor(
    readonly kind: "enveloppe" | "acte",
    readonly detail: string,
    /** The act, when its metadata could be read: the prefecture then answers with an AnomalieActe that copies it. */
    readonly act?: ActMetadata,
    /** The act's identifier, when the metadata could be read. */
    readonly identifier?: string,
    /** The collectivity as its envelope named it, when the envelope could be read. */
    readonly emitter?: { readonly siren: string; readonly departement: string },
    /** The envelope, when it could be read: the prefecture then answers with an AnomalieEnveloppe that copies it. */
    readonly envelope?: ReceivedEnvelope,
  ) {
    super(`anomalie ${kind} : ${detail}`);
  }
}

/** A transmission of an act (exchange 1-1) as the prefecture read it. */
export interface ReceivedAct {
  readonly emitter: { siren: string; departement: string; arrondissement: number; nature: string; returnAddresses: string[] };
  readonly envelope: ReceivedEnvelope;
  readonly identifier: string;
  readonly act: {
    date: string;
    numeroInterne: string;
    nature: NatureCode;
    classification: string;
    classificationVersion: string;
    objet: string;
    precedent?: string;
    documentPapier: boolean;
  };
  /** The act's metadata as read, which ARActe copies back. */
  readonly metadata: ActMetadata;
  /** The act's document then its annexes, under their archive names. */
  readonly files: readonly ArchivedFile[];
}

const archiveNamePattern = /^[0-9A-Z]{3}-(EACT--([0-9]{9})--([0-9]{8})-([1-9][0-9]*))\.tar\.gz$/;

function schemaProblems(kind: "enveloppe" | "acte", name: string, xml: Uint8Array): void {
  const problems = validateActes(xml);
  if (problems.length > 0) throw new Anomaly(kind, `${name} n'est pas conforme au schéma @ctes v1.1 : ${problems.join(" ; ")}`);
}

/**
 * What every exchange's archive must be before its messages are read: named as @ctes names
 * archives, a tar.gz within the size allowed, holding the envelope its name announces, which the
 * schema accepts.
 */
function openArchive(archiveName: string, archive: Uint8Array, maxBytes: number) {
  const name = archiveNamePattern.exec(archiveName);
  if (!name) throw new Anomaly("enveloppe", `le nom d'archive ${archiveName} n'est pas de la forme XXX-EACT--SIREN--AAAAMMJJ-N.tar.gz`);
  const [, stem, archiveSiren] = name;
  let files: ArchivedFile[];
  try {
    files = readArchive(archive, maxBytes);
  } catch (error) {
    if (error instanceof ArchiveError) throw new Anomaly("enveloppe", `archive illisible : ${error.message}`);
    throw error;
  }
  const byName = new Map(files.map((file) => [file.name, file]));
  const envelopeName = `${stem}.xml`;
  const envelope = byName.get(envelopeName);
  if (!envelope) throw new Anomaly("enveloppe", `l'archive ne contient pas l'enveloppe ${envelopeName}`);
  schemaProblems("enveloppe", envelopeName, envelope.content);
  return { archiveSiren: archiveSiren!, files, byName, envelopeName, envelope };
}

/**
 * Reads a transmission as the prefecture's application does before it accepts it: the archive's
 * name, the archive, its envelope and the act's metadata against the @ctes schema, the files'
 * names (identifier, exchange, typology, rank), that every file named is there and no other,
 * and that each document is what it says (PDF, or XML for a budget document).
 */
export function receiveTransmission(archiveName: string, archive: Uint8Array, maxBytes: number): ReceivedAct {
  const { archiveSiren, files, byName, envelopeName, envelope } = openArchive(archiveName, archive, maxBytes);
  const read = readActes(envelope.content, (document) => ({
    root: document.root,
    siren: document.text("/actes:EnveloppeCLMISILL/actes:Emetteur/actes:IDCL/@insee:SIREN"),
    departement: document.text("/actes:EnveloppeCLMISILL/actes:Emetteur/actes:IDCL/@actes:Departement"),
    arrondissement: Number(document.text("/actes:EnveloppeCLMISILL/actes:Emetteur/actes:IDCL/@actes:Arrondissement")),
    nature: document.text("/actes:EnveloppeCLMISILL/actes:Emetteur/actes:IDCL/@actes:Nature"),
    returnAddresses: document.all("/actes:EnveloppeCLMISILL/actes:AdressesRetour/actes:Email"),
    forms: document.all("/actes:EnveloppeCLMISILL/actes:FormulairesEnvoyes/actes:Formulaire/actes:NomFichier"),
  }));
  if (read.root !== "EnveloppeCLMISILL") throw new Anomaly("enveloppe", `${envelopeName} n'est pas une enveloppe de collectivité (EnveloppeCLMISILL)`);
  const { forms, root: _root, ...emitter } = read;
  const received: ReceivedEnvelope = { emitter, forms };
  const envelopeAnomaly = (detail: string) => new Anomaly("enveloppe", detail, undefined, undefined, { siren: emitter.siren, departement: emitter.departement }, received);
  if (emitter.siren !== archiveSiren) throw envelopeAnomaly(`le SIREN de l'enveloppe (${emitter.siren}) n'est pas celui du nom de l'archive (${archiveSiren})`);
  if (forms.length !== 1) throw envelopeAnomaly(`une transmission d'acte porte un formulaire, celle-ci en porte ${forms.length}`);
  const metadataName = forms[0]!;
  const metadata = byName.get(metadataName);
  if (!metadata) throw envelopeAnomaly(`le formulaire ${metadataName} annoncé par l'enveloppe est absent de l'archive`);
  const metadataProblems = validateActes(metadata.content);
  if (metadataProblems.length > 0) throw envelopeAnomaly(`${metadataName} n'est pas conforme au schéma @ctes v1.1 : ${metadataProblems.join(" ; ")}`);
  const acte = readActes(metadata.content, (document) => ({
    root: document.root,
    date: document.text("/actes:Acte/@actes:Date"),
    numeroInterne: document.text("/actes:Acte/@actes:NumeroInterne"),
    nature: Number(document.text("/actes:Acte/@actes:CodeNatureActe")) as NatureCode,
    classification: [1, 2, 3, 4, 5].map((level) => document.text(`/actes:Acte/actes:CodeMatiere${level}/@actes:CodeMatiere`)).filter(Boolean).join("."),
    classificationVersion: document.text("/actes:Acte/actes:ClassificationDateVersion"),
    objet: document.text("/actes:Acte/actes:Objet"),
    precedent: document.text("/actes:Acte/actes:PrecedentIdentifiantActe/@actes:IDActe"),
    documentPapier: document.text("/actes:Acte/actes:DocumentPapier") === "O",
    document: document.text("/actes:Acte/actes:Document/actes:NomFichier"),
    signature: document.text("/actes:Acte/actes:Document/actes:Signature"),
    annexes: document.all("/actes:Acte/actes:Annexes/actes:Annexe/actes:NomFichier"),
    count: Number(document.text("/actes:Acte/actes:Annexes/@actes:Nombre")),
  }));
  if (acte.root !== "Acte") throw new Anomaly("acte", `${metadataName} n'est pas un acte (Acte)`);
  const { root: _acteRoot, document: documentName, signature, annexes: annexNames, count, precedent, ...fields } = acte;
  const metadataRead: ActMetadata = { ...fields, ...(precedent ? { precedent } : {}), document: { name: documentName, ...(signature ? { signature } : {}) }, annexes: annexNames };
  const identifier = actIdentifier(emitter.departement, emitter.siren, acte.date, acte.numeroInterne, acte.nature);
  const names = exchangeFileNames(identifier, "1-1");
  const named = [documentName, ...annexNames];
  try {
    if (metadataName !== names.metadata) throw new Anomaly("acte", `le formulaire devrait s'appeler ${names.metadata}, il s'appelle ${metadataName}`);
    if (count !== annexNames.length) throw new Anomaly("acte", `Annexes annonce ${count} annexes, en nomme ${annexNames.length}`);
    named.forEach((file, i) => {
      const expected = new RegExp(`^[0-9]{2}_[A-Z0-9]{2}-${names.base}_${i + 1}\\.(pdf|xml)$`);
      if (!expected.test(file)) throw new Anomaly("acte", `le fichier ${file} ne suit pas le nommage typologie-${names.base}_${i + 1}.pdf`);
      const content = byName.get(file)?.content;
      if (!content) throw new Anomaly("acte", `le fichier ${file} annoncé par le formulaire est absent de l'archive`);
      const xml = file.endsWith(".xml");
      if (xml && acte.nature !== 5) throw new Anomaly("acte", `${file} : seul un document budgétaire (nature 5) peut être transmis en XML`);
      if (xml ? !looksLikeXml(content) : !looksLikePdf(content)) throw new Anomaly("acte", `${file} n'est pas un fichier ${xml ? "XML" : "PDF"}`);
    });
    const unexpected = files.map((f) => f.name).filter((f) => f !== envelopeName && f !== metadataName && !named.includes(f));
    if (unexpected.length > 0) throw new Anomaly("acte", `l'archive contient des fichiers que rien n'annonce : ${unexpected.join(", ")}`);
  } catch (error) {
    if (error instanceof Anomaly) throw new Anomaly(error.kind, error.detail, metadataRead, identifier, { siren: emitter.siren, departement: emitter.departement });
    throw error;
  }
  return {
    emitter,
    envelope: received,
    identifier,
    act: { ...fields, ...(precedent ? { precedent } : {}) },
    metadata: metadataRead,
    files: named.map((file) => byName.get(file)!),
  };
}

/** A message of an exchange other than the transmission, as the prefecture read it from its archive. */
export interface ReceivedMessage {
  readonly emitter: { readonly siren: string; readonly departement: string };
  readonly name: string;
  readonly xml: Uint8Array;
  /** The files the message names, in the order it names them. */
  readonly files: readonly ArchivedFile[];
}

/**
 * Reads the archive of any other exchange the collectivity starts or answers (a cancellation,
 * an answer to a letter): its name and envelope as for a transmission, one message the schema
 * accepts, every file it names present and no other. What the message says is the caller's to read.
 */
export function receiveMessage(archiveName: string, archive: Uint8Array, maxBytes: number): ReceivedMessage {
  const { archiveSiren, files, byName, envelopeName, envelope } = openArchive(archiveName, archive, maxBytes);
  const read = readActes(envelope.content, (document) => ({
    siren: document.text("/actes:EnveloppeCLMISILL/actes:Emetteur/actes:IDCL/@insee:SIREN"),
    departement: document.text("/actes:EnveloppeCLMISILL/actes:Emetteur/actes:IDCL/@actes:Departement"),
    forms: document.all("/actes:EnveloppeCLMISILL/actes:FormulairesEnvoyes/actes:Formulaire/actes:NomFichier"),
  }));
  if (read.siren !== archiveSiren) throw new Anomaly("enveloppe", `le SIREN de l'enveloppe (${read.siren}) n'est pas celui du nom de l'archive (${archiveSiren})`);
  if (read.forms.length !== 1) throw new Anomaly("enveloppe", `l'enveloppe porte ${read.forms.length} formulaires, un échange en porte un`);
  const messageName = read.forms[0]!;
  const message = byName.get(messageName);
  if (!message) throw new Anomaly("enveloppe", `le formulaire ${messageName} annoncé par l'enveloppe est absent de l'archive`);
  schemaProblems("acte", messageName, message.content);
  const named = readActes(message.content, (document) => document.all("//actes:NomFichier"));
  const missing = named.filter((file) => !byName.has(file));
  if (missing.length > 0) throw new Anomaly("acte", `${missing.join(", ")} annoncé par ${messageName} est absent de l'archive`);
  const unexpected = files.map((f) => f.name).filter((f) => f !== envelopeName && f !== messageName && !named.includes(f));
  if (unexpected.length > 0) throw new Anomaly("acte", `l'archive contient des fichiers que rien n'annonce : ${unexpected.join(", ")}`);
  for (const file of named) if (!looksLikePdf(byName.get(file)!.content)) throw new Anomaly("acte", `${file} n'est pas un fichier PDF`);
  return { emitter: { siren: read.siren, departement: read.departement }, name: messageName, xml: message.content, files: named.map((file) => byName.get(file)!) };
}
