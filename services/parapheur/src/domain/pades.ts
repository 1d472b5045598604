import { cadesDetached } from "./cades.ts";
import type { KeyAndCertificate } from "./pki.ts";

/** Why a PDF cannot be signed here, in words fit for the person who sent it. */
export class PdfError extends Error {
  override name = "PdfError";
}

/** Room for the CMS in /Contents: 16 KiB, enough for the chain and, later, a timestamp. */
const contentsBytes = 16 * 1024;
const byteRangePlaceholder = "/ByteRange [0 /********** /********** /**********]";

interface IndirectObject {
  readonly number: number;
  readonly generation: number;
  /** The object's dictionary, without its closing `>>`. */
  readonly open: string;
}

/** The last definition of object `number` in the file (an incremental update's wins). */
function objectAt(text: string, number: number, generation: number): IndirectObject {
  const pattern = new RegExp(`(?:^|[\\r\\n\\s])${number}\\s+${generation}\\s+obj\\b`, "g");
  let start = -1;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) start = match.index + match[0].length;
  if (start < 0) throw new PdfError(`the PDF has no object ${number} ${generation}`);
  const end = text.indexOf("endobj", start);
  const body = text.slice(start, end);
  if (/\bstream\b/.test(body)) throw new PdfError(`object ${number} is a stream: this PDF's structure is not supported`);
  const close = body.lastIndexOf(">>");
  if (close < 0) throw new PdfError(`object ${number} is not a dictionary`);
  return { number, generation, open: body.slice(0, close).trim() };
}

const reference = (dictionary: string, key: string) => {
  const match = new RegExp(`/${key}\\s+(\\d+)\\s+(\\d+)\\s+R`).exec(dictionary);
  return match ? { number: Number(match[1]), generation: Number(match[2]) } : undefined;
};

/** A dictionary's `/Fields [...]` with one more field, and `/SigFlags 3`; undefined when it has no inline array of fields. */
function addField(dictionary: string, field: number): string | undefined {
  const fields = /\/Fields\s*\[([^\]]*)\]/.exec(dictionary);
  if (!fields) return undefined;
  const flagged = /\/SigFlags\s+\d+/.test(dictionary) ? dictionary.replace(/\/SigFlags\s+\d+/, "/SigFlags 3") : `${dictionary} /SigFlags 3`;
  return flagged.replace(/\/Fields\s*\[([^\]]*)\]/, `/Fields [${fields[1]!.trim()} ${field} 0 R]`.replace("[ ", "["));
}

/**
 * The objects that give the document's form one more (signature) field: the catalog with a new
 * form, or with its form (inline, as an earlier signature left it) grown; or the form object
 * itself. A form this cannot grow (fields in an indirect array) is refused with the reason.
 */
function withField(text: string, catalog: IndirectObject, field: number): { number: number; generation: number; body: string }[] {
  const catalogObject = (open: string) => ({ number: catalog.number, generation: catalog.generation, body: `${open} >>` });
  if (!/\/AcroForm/.test(catalog.open)) return [catalogObject(`${catalog.open} /AcroForm << /Fields [${field} 0 R] /SigFlags 3 >>`)];
  const inline = /\/AcroForm\s*<<((?:(?!<<)[\s\S])*?)>>/.exec(catalog.open);
  if (inline) {
    const grown = addField(inline[1]!, field);
    if (grown) return [catalogObject(catalog.open.replace(inline[0], `/AcroForm <<${grown} >>`))];
  }
  const indirect = reference(catalog.open, "AcroForm");
  if (indirect) {
    const form = objectAt(text, indirect.number, indirect.generation);
    const grown = addField(form.open, field);
    if (grown) return [{ number: form.number, generation: form.generation, body: `${grown} >>` }];
  }
  throw new PdfError("the PDF's form is built in a way not supported yet (its fields are not an inline array)");
}

/** A PDF date in UTC: D:YYYYMMDDHHmmSS+00'00'. */
const pdfDate = (at: Date) => `D:${at.toISOString().replace(/[-:T]/g, "").slice(0, 14)}+00'00'`;
/** A PDF literal string, its special characters escaped (latin-1 text). */
const literal = (text: string) => `(${text.replace(/[\\()]/g, "\\$&")})`;

/**
 * Signs a PDF as PAdES (baseline B, `ETSI.CAdES.detached`): an incremental update appends the
 * signature dictionary, an invisible signature field on the first page and the catalog's form,
 * leaving every earlier byte as it was; the CMS (without signing time: the time is `/M`) covers
 * the whole file but the signature's own hexadecimal. Verified by `pdfsig`. A PDF signed before
 * (here or elsewhere, its form's fields inline) is signed again by a further update, which leaves
 * the earlier signatures valid. PDFs whose cross references are streams (PDF 1.5 object streams)
 * are refused for now with the reason.
 */
export async function padesSign(
  pdf: Buffer,
  signer: KeyAndCertificate,
  chain: readonly string[],
  at: Date,
  details: { readonly reason?: string; readonly location?: string; readonly name?: string } = {},
): Promise<Buffer> {
  const text = pdf.toString("latin1");
  const startxref = /startxref\s+(\d+)\s+%%EOF\s*$/.exec(text);
  if (!startxref) throw new PdfError("the file does not end as a PDF does (startxref, %%EOF)");
  const previous = Number(startxref[1]);
  if (!text.startsWith("xref", previous)) throw new PdfError("this PDF's cross references are a stream (PDF 1.5 or later): not supported yet");
  const trailerAt = text.indexOf("trailer", previous);
  const trailer = text.slice(trailerAt, text.indexOf("startxref", trailerAt));
  const size = Number(/\/Size\s+(\d+)/.exec(trailer)?.[1]);
  const root = reference(trailer, "Root");
  if (!size || !root) throw new PdfError("the PDF's trailer has no /Size or /Root");
  const catalog = objectAt(text, root.number, root.generation);
  const pages = reference(catalog.open, "Pages");
  if (!pages) throw new PdfError("the PDF's catalog has no /Pages");
  const firstKid = /\/Kids\s*\[\s*(\d+)\s+(\d+)\s+R/.exec(objectAt(text, pages.number, pages.generation).open);
  if (!firstKid) throw new PdfError("the PDF has no page");
  const page = objectAt(text, Number(firstKid[1]), Number(firstKid[2]));
  if (/\/Annots\s+\d+\s+\d+\s+R/.test(page.open)) throw new PdfError("the first page's annotations are an indirect array: not supported yet");

  const [signatureNumber, widgetNumber] = [size, size + 1];
  const form = withField(text, catalog, widgetNumber);
  const annots = /\/Annots\s*\[([^\]]*)\]/.exec(page.open);
  const pageDictionary = annots ? page.open.replace(annots[0], `/Annots [${annots[1]!.trim()} ${widgetNumber} 0 R]`) : `${page.open} /Annots [${widgetNumber} 0 R]`;
  const objects: { number: number; generation: number; body: string }[] = [
    ...form,
    { number: page.number, generation: page.generation, body: `${pageDictionary} >>` },
    {
      number: signatureNumber,
      generation: 0,
      body:
        `<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached ${byteRangePlaceholder} /Contents <${"0".repeat(2 * contentsBytes)}>` +
        ` /M ${literal(pdfDate(at))}${details.name ? ` /Name ${literal(details.name)}` : ""}${details.reason ? ` /Reason ${literal(details.reason)}` : ""}${details.location ? ` /Location ${literal(details.location)}` : ""} >>`,
    },
    {
      number: widgetNumber,
      generation: 0,
      body: `<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature${signatureNumber}) /V ${signatureNumber} 0 R /F 132 /Rect [0 0 0 0] /P ${page.number} ${page.generation} R >>`,
    },
  ];

  // The update: each object, then its cross references, one subsection per object.
  let update = pdf.at(-1) === 0x0a ? "" : "\n";
  const offsets = new Map<number, number>();
  for (const object of objects) {
    offsets.set(object.number, pdf.length + Buffer.byteLength(update, "latin1"));
    update += `${object.number} ${object.generation} obj\n${object.body}\nendobj\n`;
  }
  const xrefAt = pdf.length + Buffer.byteLength(update, "latin1");
  update += "xref\n";
  for (const object of objects) update += `${object.number} 1\n${String(offsets.get(object.number)).padStart(10, "0")} ${String(object.generation).padStart(5, "0")} n\r\n`;
  const info = reference(trailer, "Info");
  const id = /\/ID\s*\[[^\]]*\]/.exec(trailer)?.[0];
  update += `trailer\n<< /Size ${size + 2} /Root ${root.number} ${root.generation} R${info ? ` /Info ${info.number} ${info.generation} R` : ""}${id ? ` ${id}` : ""} /Prev ${previous} >>\nstartxref\n${xrefAt}\n%%EOF\n`;

  const file = Buffer.concat([pdf, Buffer.from(update, "latin1")]);
  const contentsAt = file.indexOf(`/Contents <${"0".repeat(16)}`, pdf.length, "latin1") + "/Contents ".length;
  const contentsEnd = contentsAt + 2 * contentsBytes + 2;
  const ranges = [0, contentsAt, contentsEnd, file.length - contentsEnd];
  const byteRange = `/ByteRange [${ranges.join(" ")}]`.padEnd(byteRangePlaceholder.length, " ");
  file.write(byteRange, file.indexOf(byteRangePlaceholder, pdf.length, "latin1"), "latin1");
  const signed = Buffer.concat([file.subarray(0, contentsAt), file.subarray(contentsEnd)]);
  const cms = await cadesDetached(signed, signer, chain, at, false);
  if (cms.length > contentsBytes) throw new Error(`the signature (${cms.length} bytes) does not fit the room kept for it`);
  file.write(cms.toString("hex"), contentsAt + 1, "latin1");
  return file;
}
