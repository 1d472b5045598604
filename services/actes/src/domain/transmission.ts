import { writeArchive } from "./archive.ts";
import { acteXml, envelopeXml, type ActMetadata, type Emitter } from "./envelope.ts";
import { exchangeFileNames } from "./identifiers.ts";
import { validateActes } from "./schema.ts";

/** An act as its transmission needs it: the @ctes fields and its files, in rank order (the act's own document first). */
export interface ActToTransmit extends Omit<ActMetadata, "documentPapier" | "classificationVersion" | "document" | "annexes"> {
  readonly documentPapier?: boolean;
  /** The act's own document first; it may carry its signature (detached CMS, base64). */
  readonly files: readonly { readonly typology: string; readonly mimeType: string; readonly content: Uint8Array; readonly signature?: string }[];
}

/**
 * The archive of an act's transmission (exchange 1-1): the envelope, the act's metadata and its
 * files under their @ctes names, every XML checked against the project's @ctes schema first. An
 * XML the schema refuses is the writer's fault: it throws, and nothing is sent.
 */
export function transmissionArchive(
  act: ActToTransmit,
  emitter: Emitter,
  naming: { readonly identifier: string; readonly envelope: string },
  classificationVersion: string,
  at = new Date(),
): { archive: Buffer; envelope: Buffer; metadata: { name: string; content: Buffer } } {
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
  const { archive, envelope } = envelopedArchive(emitter, naming.envelope, metadata, act.files.map((file, i) => ({ name: files[i]!, content: file.content })), at);
  return { archive, envelope, metadata };
}

/**
 * Any exchange the collectivity sends, as @ctes carries it: an archive holding the envelope
 * (named `envelopeName`, announcing the message), the message and the files it names. Envelope
 * and message are checked against the project's @ctes schema first: an XML the schema refuses is
 * the writer's fault, so it throws and nothing is sent.
 */
export function envelopedArchive(
  emitter: Emitter,
  envelopeName: string,
  message: { readonly name: string; readonly content: Buffer },
  files: readonly { readonly name: string; readonly content: Uint8Array }[],
  at = new Date(),
): { archive: Buffer; envelope: Buffer } {
  const envelope = envelopeXml(emitter, [message.name]);
  const problems = [...validateActes(envelope).map((p) => `${envelopeName}: ${p}`), ...validateActes(message.content).map((p) => `${message.name}: ${p}`)];
  if (problems.length > 0) throw new Error(`the @ctes files written (${message.name}) do not follow the schema: ${problems.join("; ")}`);
  return { archive: writeArchive([{ name: envelopeName, content: envelope }, message, ...files], at), envelope };
}
