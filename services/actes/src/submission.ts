import { createHash } from "node:crypto";
import { InvalidRequest, PayloadTooLarge } from "@mutualis/service-kit";
import { z } from "zod";
import { actSubmission, defaultTypology, looksLikeCmsSignedData, maxSignatureBytes, isFutureDate, looksLikePdf, looksLikeXml, type ActSubmission, type NatureCode } from "./domain/act.ts";

/** An annex's typology when the agent gives none: "autre". */
export const defaultAnnexTypology = "99_AU";

const transportFile = z.object({
  fileName: z.string().min(1).max(255),
  mimeType: z.string(),
  contentBase64: z.string().min(1),
  /** The file's @ctes typology; the act's own document defaults to 99_ and its nature's letters, annexes to 99_AU. */
  typology: z.unknown().optional(),
});

/** The act's own document may come with its signature: detached CMS (CAdES), DER, as the parapheur makes it. */
const signedDocument = transportFile.extend({ signatureBase64: z.string().min(1).max(Math.ceil((maxSignatureBytes * 4) / 3) + 4).optional() });

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
  readonly contents: Uint8Array[];
}

/**
 * Checks an act before anything is stored: the @ctes rules, that each file really is a PDF
 * (by its bytes, not its claimed type), the size limit, and a date that is not in the future.
 */
export function checkAct(request: ActRequest, maxFileBytes: number, now: Date): CheckedAct {
  const files = [request.document, ...request.annexes];
  const contents = files.map((file) => Buffer.from(file.contentBase64, "base64"));
  const tooLarge = contents.findIndex((c) => c.length > maxFileBytes);
  if (tooLarge >= 0) throw new PayloadTooLarge(`${files[tooLarge]!.fileName} is larger than ${maxFileBytes} bytes`);
  const described = files.map((file, i) => ({
    fileName: file.fileName,
    mimeType: file.mimeType,
    size: contents[i]!.length,
    sha256: createHash("sha256").update(contents[i]!).digest("hex"),
    ...(file.typology !== undefined ? { typology: file.typology } : {}),
  }));
  const parsed = actSubmission.safeParse({ ...request, document: described[0], annexes: described.slice(1) });
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  contents.forEach((content, i) => {
    const where = i === 0 ? "document" : `annexes.${i - 1}`;
    if (files[i]!.mimeType === "application/xml") {
      if (!looksLikeXml(content)) problems.push(`${where}: ${files[i]!.fileName} is not an XML file`);
    } else if (!looksLikePdf(content)) problems.push(`${where}: ${files[i]!.fileName} is not a PDF file`);
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
