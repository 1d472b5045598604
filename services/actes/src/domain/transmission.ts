import { writeArchive, type ArchivedFile, type ArchiveEntry, type StreamedFile } from "./archive.ts";
import { acteXml, envelopeXml, type ActMetadata, type Emitter } from "./envelope.ts";
import { exchangeFileNames } from "./identifiers.ts";
import { validateActes } from "./schema.ts";

/** A file's bytes: in memory, or read as needed (a file of the object store). */
export type FileContent = Uint8Array | Omit<StreamedFile, "name">;

/** An act as its transmission needs it: the @ctes fields and its files, in rank order (the act's own document first). */
export interface ActToTransmit<C extends FileContent = Uint8Array> extends Omit<ActMetadata, "documentPapier" | "classificationVersion" | "document" | "annexes"> {
  readonly documentPapier?: boolean;
  /** The act's own document first; it may carry its signature (detached CMS, base64). */
  readonly files: readonly { readonly typology: string; readonly mimeType: string; readonly content: C; readonly signature?: string }[];
}

/** A file of an archive under its @ctes name. */
function entry(name: string, content: FileContent): ArchiveEntry {
  return content instanceof Uint8Array ? { name, content } : { name, size: content.size, read: () => content.read() };
}

/**
 * The files of an act's transmission (exchange 1-1), in their archive's order: the envelope, the
 * act's metadata and its files under their @ctes names, every XML checked against the project's
 * @ctes schema first. An XML the schema refuses is the writer's fault: it throws, and nothing is sent.
 */
export function transmissionEntries(
  act: ActToTransmit<FileContent>,
  emitter: Emitter,
  naming: { readonly identifier: string; readonly envelope: string },
  classificationVersion: string,
): { entries: ArchiveEntry[]; envelope: Buffer; metadata: { name: string; content: Buffer } } {
  const names = exchangeFileNames(naming.identifier, "1-1");
  const files = act.files.map((file, i) => names.file(file.typology, i + 1, file.mimeType === "application/xml" ? "xml" : "pdf"));
  const acte = acteXml({
    ...act,
    documentPapier: act.documentPapier ?? false,
    classificationVersion,
    document: { name: files[0]!, ...(act.files[0]?.signature ? { signature: act.files[0].signature } : {}) },
    annexes: files.slice(1),
  });
  const metadata = { name: names.metadata, content: acte };
  const { entries, envelope } = envelopedEntries(emitter, naming.envelope, metadata, act.files.map((file, i) => entry(files[i]!, file.content)));
  return { entries, envelope, metadata };
}

/** The archive of an act's transmission, made in memory (for acts whose files are in memory). */
export function transmissionArchive(
  act: ActToTransmit,
  emitter: Emitter,
  naming: { readonly identifier: string; readonly envelope: string },
  classificationVersion: string,
  at = new Date(),
): { archive: Buffer; envelope: Buffer; metadata: { name: string; content: Buffer } } {
  const { entries, envelope, metadata } = transmissionEntries(act, emitter, naming, classificationVersion);
  return { archive: writeArchive(entries as ArchivedFile[], at), envelope, metadata };
}

/**
 * Any exchange the collectivity sends, as @ctes carries it: an archive holding the envelope
 * (named `envelopeName`, announcing the message), the message and the files it names, in that
 * order. Envelope and message are checked against the project's @ctes schema first: an XML the
 * schema refuses is the writer's fault, so it throws and nothing is sent.
 */
export function envelopedEntries(
  emitter: Emitter,
  envelopeName: string,
  message: { readonly name: string; readonly content: Buffer },
  files: readonly ArchiveEntry[],
): { entries: ArchiveEntry[]; envelope: Buffer } {
  const envelope = envelopeXml(emitter, [message.name]);
  const problems = [...validateActes(envelope).map((p) => `${envelopeName}: ${p}`), ...validateActes(message.content).map((p) => `${message.name}: ${p}`)];
  if (problems.length > 0) throw new Error(`the @ctes files written (${message.name}) do not follow the schema: ${problems.join("; ")}`);
  return { entries: [{ name: envelopeName, content: envelope }, message, ...files], envelope };
}
