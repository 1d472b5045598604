import { existsSync, readFileSync } from "node:fs";
import { ParseOption, XmlBufferInputProvider, XmlDocument, XmlLibError, XsdValidator, xmlRegisterInputProvider, type ErrorDetail } from "libxml2-wasm";
import { actesNamespace } from "./envelope.ts";

/**
 * The project's @ctes v1.1 schema (schemas/actes.xsd) and the INSEE one it imports: in the
 * package when run from the sources, beside the chunks (schemas/actes/) in the services image's
 * bundle, where bundle.mjs copies them.
 */
function schemasDirectory(): URL {
  const candidates = [new URL("../../schemas/", import.meta.url), new URL("../schemas/actes/", import.meta.url)];
  const found = candidates.find((directory) => existsSync(new URL("actes.xsd", directory)));
  if (!found) throw new Error(`the @ctes schema is in none of ${candidates.map((c) => c.pathname).join(", ")}`);
  return found;
}

/**
 * Names the schemas are known by inside libxml2. They are served from memory, not read through a
 * file provider, so that no document validated here can make libxml2 open a file.
 */
const schemaUrls = { actes: "mutualis-schemas:/actes.xsd", insee: "mutualis-schemas:/insee.xsd" } as const;

/** More messages than this would bury the first ones, which usually explain the rest. */
const maxMessages = 20;

/** Received documents may not fetch anything: no network, no external DTD or entity. */
const documentParseOptions = ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NO_XXE;

let validator: XsdValidator | undefined;

/** Compiles the schema once, on first use: a process that never validates never reads it. */
function actesValidator(): XsdValidator {
  if (validator === undefined) {
    const directory = schemasDirectory();
    xmlRegisterInputProvider(new XmlBufferInputProvider({ [schemaUrls.insee]: readFileSync(new URL("insee.xsd", directory)) }));
    const schema = XmlDocument.fromBuffer(readFileSync(new URL("actes.xsd", directory)), { url: schemaUrls.actes });
    // The validator keeps using the schema document: both live as long as the process.
    validator = XsdValidator.fromDoc(schema);
  }
  return validator;
}

const namespacePrefixes: readonly (readonly [string, string])[] = [
  [`{${actesNamespace}}`, "actes:"],
  ["{http://xml.insee.fr/schema}", "insee:"],
];

/** One line per problem, as a client can read it: where, and libxml2's words with the usual prefixes. */
function describe(details: readonly ErrorDetail[]): string[] {
  const messages = details.map(({ line, message }) => {
    const text = namespacePrefixes.reduce((result, [expanded, prefix]) => result.replaceAll(expanded, prefix), message.trim());
    return line > 0 ? `line ${line}: ${text}` : text;
  });
  if (messages.length <= maxMessages) return messages;
  return [...messages.slice(0, maxMessages), `and ${messages.length - maxMessages} more problems`];
}

/**
 * Checks an @ctes v1.1 document (an envelope, an act's metadata or any message of the exchanges)
 * against the schema. The bytes are the file as sent or received: its XML declaration names the
 * encoding (ISO-8859-1 for @ctes), which a JavaScript string could not keep.
 * @returns nothing when the document is valid; else what is wrong, one problem per line, with its line number.
 */
export function validateActes(xml: Uint8Array): string[] {
  const schema = actesValidator();
  let document: XmlDocument;
  try {
    document = XmlDocument.fromBuffer(xml, { url: "document.xml", option: documentParseOptions });
  } catch (error) {
    if (error instanceof XmlLibError) return describe(error.details);
    throw error;
  }
  try {
    schema.validate(document);
    return [];
  } catch (error) {
    if (error instanceof XmlLibError) return describe(error.details);
    throw error;
  } finally {
    document.dispose();
  }
}

/** The prefixes every XPath over an @ctes document may use. */
const namespaces = { actes: actesNamespace, insee: "http://xml.insee.fr/schema" };

/** Read access to a parsed @ctes document, by XPath with the `actes:` and `insee:` prefixes. */
export interface ActesDocument {
  /** The root element's local name: Acte, ARActe, EnveloppeCLMISILL… */
  readonly root: string;
  /** The string value of an XPath expression ("" when it selects nothing). */
  text(xpath: string): string;
  /** The text of every node an XPath selects, in document order. */
  all(xpath: string): string[];
}

/**
 * Reads a document the schema accepted (validate first: this only parses). The document lives
 * only for the call: `read` must copy out what it needs.
 */
export function readActes<T>(xml: Uint8Array, read: (document: ActesDocument) => T): T {
  const document = XmlDocument.fromBuffer(xml, { url: "document.xml", option: documentParseOptions });
  try {
    return read({
      root: document.root.name.replace(/^.*:/, ""),
      text: (xpath) => String(document.eval(`string(${xpath})`, namespaces)),
      all: (xpath) => document.find(xpath, namespaces).map((node) => node.content),
    });
  } finally {
    document.dispose();
  }
}
