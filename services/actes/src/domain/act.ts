import { z } from "zod";

/** @ctes nature codes (CodeNatureActe) and the two letters that end an act's identifier. */
export const natures = {
  1: { code: "DE", label: "Délibération" },
  2: { code: "AR", label: "Acte réglementaire" },
  3: { code: "AI", label: "Acte individuel" },
  4: { code: "CC", label: "Contrat, convention et avenant" },
  5: { code: "BF", label: "Document budgétaire et financier" },
  6: { code: "AU", label: "Autre" },
} as const;

export type NatureCode = keyof typeof natures;

/** 150 MB: the size limit of an @ctes archive. */
export const maxArchiveBytes = 150 * 1024 * 1024;

/** A file of the act: its name as the agent gave it, its size and its SHA-256. */
export const actFile = z.object({
  fileName: z.string().min(1).max(255),
  mimeType: z.literal("application/pdf", { error: "must be a PDF (application/pdf)" }),
  size: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be the file's SHA-256, 64 hexadecimal digits"),
});

export type ActFile = z.infer<typeof actFile>;

/** What an agent submits: the @ctes fields of the act and its files. */
export const actSubmission = z
  .object({
    numeroInterne: z.string().regex(/^[0-9A-Z_]{2,15}$/, "must be 2 to 15 capital letters, digits or '_' (NumeroInterne)"),
    nature: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5), z.literal(6)], {
      error: "must be 1 to 6: délibération, acte réglementaire, acte individuel, contrat/convention, document budgétaire, autre",
    }),
    classification: z
      .string()
      .regex(/^[1-9](\.[1-9][0-9]?){0,4}$/, "must be a matière code such as 1.1 or 7.1.2 (CodeMatiere1..5)"),
    objet: z.string().trim().min(1, "must not be empty").max(499, "must be at most 499 characters"),
    date: z.iso.date("must be a date such as 2026-11-28"),
    document: actFile,
    annexes: z.array(actFile).max(50).default([]),
  })
  .superRefine((act, context) => {
    const total = act.document.size + act.annexes.reduce((sum, annex) => sum + annex.size, 0);
    if (total > maxArchiveBytes) {
      context.addIssue({ code: "custom", path: ["document"], message: `the act and its annexes exceed ${maxArchiveBytes / 1024 / 1024} MB` });
    }
  });

export type ActSubmission = z.infer<typeof actSubmission>;

/** True when the bytes start like a PDF file: the MIME type alone is only what the client claims. */
export function looksLikePdf(head: Uint8Array): boolean {
  return Buffer.from(head.subarray(0, 5)).toString("latin1") === "%PDF-";
}

/** An act's date may not be in the future (checked with the clock injected). */
export function isFutureDate(date: string, now: Date): boolean {
  return date > now.toISOString().slice(0, 10);
}
