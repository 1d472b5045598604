import { createHash } from "node:crypto";
import { InvalidRequest, PayloadTooLarge, type StoredObject } from "@mutualis/service-kit";
import { z } from "zod";
import { actSubmission, defaultTypology, looksLikeCmsSignedData, maxSignatureBytes, isFutureDate, looksLikePdf, looksLikeXml, type ActSubmission, type NatureCode } from "./domain/act.ts";

/** An annex's typology when the agent gives none: "autre". */
export const defaultAnnexTypology = "99_AU";

/**
 * A file of an act: its bytes in the message (up to ACTES_MAX_FILE_BYTES), or, for a larger one,
 * the id of the caller's finished upload (its name and type are then the upload's).
 */
const transportFile = z
  .object({
    fileName: z.string().min(1).max(255).optional(),
    mimeType: z.string().optional(),
    contentBase64: z.string().min(1).optional(),
    upload: z.uuid().optional(),
    /** The file's @ctes typology; the act's own document defaults to 99_ and its nature's letters, annexes to 99_AU. */
    typology: z.unknown().optional(),
  })
  .refine((file) => (file.contentBase64 === undefined) !== (file.upload === undefined), "give either contentBase64 or upload, not both")
  .refine((file) => file.upload !== undefined || (file.fileName !== undefined && file.mimeType !== undefined), "a file given by its content needs fileName and mimeType");

/** The act's own document may come with its signature: detached CMS (CAdES), DER, as the parapheur makes it. */
const signedDocument = z.intersection(transportFile, z.object({ signatureBase64: z.string().min(1).max(Math.ceil((maxSignatureBytes * 4) / 3) + 4).optional() }));

/** An act as it arrives over NATS: the @ctes fields and the files' contents. */
export const actRequest = z.object({
  numeroInterne: z.unknown(),
  nature: z.unknown(),
  classification: z.unknown(),
  objet: z.unknown(),
  date: z.unknown(),
  documentPapier: z.unknown().optional(),
  precedent: z.unknown().optional(),
  document: signedDocument,
  annexes: z.array(transportFile).max(50).default([]),
});

export type ActRequest = z.infer<typeof actRequest>;

type Typed<T> = T & { typology: string; signature?: string };

export interface CheckedAct {
  /** The act, each file with its typology (given, or the default). */
  readonly act: Omit<ActSubmission, "document" | "annexes"> & { document: Typed<ActSubmission["document"]>; annexes: Typed<ActSubmission["annexes"][number]>[] };
  /** Each file's bytes, or its object in the object store when it was uploaded. */
  readonly contents: (Uint8Array | StoredObject)[];
}

/** A finished upload an act names: what was measured of it, and its first bytes. */
export interface UploadedFile {
  readonly fileName: string;
  readonly mimeType: string;
  readonly object: StoredObject;
  readonly head: Uint8Array;
}

/** The uploads an act names, in the order its files name them. */
export function uploadsNamed(request: ActRequest): string[] {
  return [request.document, ...request.annexes].flatMap((file) => (file.upload ? [file.upload] : []));
}

/**
 * Checks an act before anything is stored: the @ctes rules, that each file really is a PDF
 * (by its bytes, not its claimed type), the size limit, and a date that is not in the future.
 */
export function checkAct(request: ActRequest, maxFileBytes: number, now: Date, uploads: ReadonlyMap<string, UploadedFile> = new Map()): CheckedAct {
  const given = [request.document, ...request.annexes];
  const files = given.map((file) => {
    if (file.upload === undefined) return { ...file, fileName: file.fileName!, mimeType: file.mimeType!, bytes: Buffer.from(file.contentBase64!, "base64") };
    const upload = uploads.get(file.upload);
    if (!upload) throw new InvalidRequest(`no finished upload ${file.upload}`);
    return { ...file, fileName: file.fileName ?? upload.fileName, mimeType: file.mimeType ?? upload.mimeType, upload };
  });
  const tooLarge = files.findIndex((file) => "bytes" in file && file.bytes.length > maxFileBytes);
  if (tooLarge >= 0) throw new PayloadTooLarge(`${files[tooLarge]!.fileName} is larger than ${maxFileBytes} bytes: upload it in parts and name the upload`);
  const contents = files.map((file) => ("bytes" in file ? file.bytes : file.upload.object));
  const heads = files.map((file) => ("bytes" in file ? file.bytes : file.upload.head));
  const described = files.map((file) => ({
    fileName: file.fileName,
    mimeType: file.mimeType,
    size: "bytes" in file ? file.bytes.length : file.upload.object.size,
    sha256: "bytes" in file ? createHash("sha256").update(file.bytes).digest("hex") : file.upload.object.sha256,
    ...(file.typology !== undefined ? { typology: file.typology } : {}),
  }));
  const parsed = actSubmission.safeParse({ ...request, document: described[0], annexes: described.slice(1) });
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  heads.forEach((head, i) => {
    const where = i === 0 ? "document" : `annexes.${i - 1}`;
    if (files[i]!.mimeType === "application/xml") {
      if (!looksLikeXml(head)) problems.push(`${where}: ${files[i]!.fileName} is not an XML file`);
    } else if (!looksLikePdf(head)) problems.push(`${where}: ${files[i]!.fileName} is not a PDF file`);
  });
  if (parsed.success && isFutureDate(parsed.data.date, now)) problems.push("date: an act cannot be dated in the future");
  const signature = request.document.signatureBase64 === undefined ? undefined : Buffer.from(request.document.signatureBase64, "base64");
  if (signature && !looksLikeCmsSignedData(signature)) problems.push("document.signatureBase64: is not a detached CMS (CAdES) signature in DER");
  if (!parsed.success || problems.length > 0) throw new InvalidRequest("the act is invalid", { details: problems });
  const act = parsed.data;
  return {
    act: {
      ...act,
      document: {
        ...act.document,
        typology: act.document.typology ?? defaultTypology(act.nature as NatureCode),
        ...(signature ? { signature: signature.toString("base64") } : {}),
      },
      annexes: act.annexes.map((annex) => ({ ...annex, typology: annex.typology ?? defaultAnnexTypology })),
    },
    contents,
  };
}
