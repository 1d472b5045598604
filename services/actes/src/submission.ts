import { createHash } from "node:crypto";
import { InvalidRequest, PayloadTooLarge } from "@mutualis/service-kit";
import { z } from "zod";
import { actSubmission, isFutureDate, looksLikePdf, type ActSubmission } from "./domain/act.ts";

const transportFile = z.object({
  fileName: z.string().min(1).max(255),
  mimeType: z.string(),
  contentBase64: z.string().min(1),
});

/** An act as it arrives over NATS: the @ctes fields and the files' contents. */
export const actRequest = z.object({
  numeroInterne: z.unknown(),
  nature: z.unknown(),
  classification: z.unknown(),
  objet: z.unknown(),
  date: z.unknown(),
  document: transportFile,
  annexes: z.array(transportFile).max(50).default([]),
});

export type ActRequest = z.infer<typeof actRequest>;

export interface CheckedAct {
  readonly act: ActSubmission;
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
  }));
  const parsed = actSubmission.safeParse({ ...request, document: described[0], annexes: described.slice(1) });
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  contents.forEach((content, i) => {
    if (!looksLikePdf(content)) problems.push(`${i === 0 ? "document" : `annexes.${i - 1}`}: ${files[i]!.fileName} is not a PDF file`);
  });
  if (parsed.success && isFutureDate(parsed.data.date, now)) problems.push("date: an act cannot be dated in the future");
  if (!parsed.success || problems.length > 0) throw new InvalidRequest("the act is invalid", { details: problems });
  return { act: parsed.data, contents };
}
