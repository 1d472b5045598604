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

/** The text's characters that ISO-8859-1, the encoding of @ctes's files, cannot write, each once. */
export function nonLatin1Characters(text: string): string[] {
  return [...new Set([...text].filter((c) => c.codePointAt(0)! > 0xff))];
}

const latin1Text = (field: string) => (text: string, context: z.RefinementCtx) => {
  // eslint-disable-next-line no-control-regex -- the control characters XML cannot carry are what it finds
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) context.addIssue({ code: "custom", message: `${field} must not contain control characters` });
  const outside = nonLatin1Characters(text);
  if (outside.length > 0) {
    context.addIssue({
      code: "custom",
      message: `${field} is written in ISO-8859-1 for the prefecture, which has no ${outside.map((c) => `"${c}" (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")})`).join(", ")}: write it with other characters (' for ’, oe for œ, EUR for €)`,
    });
  }
};

/** A file's typology in @ctes (TypePJNatureActe@CodeTypePJ), e.g. 99_DE for a délibération's own text. */
export const typologyPattern = /^[0-9]{2}_[A-Z0-9]{2}$/;

/** The typology of an act's own document when the agent gives none: 99 and the nature's two letters. */
export function defaultTypology(nature: NatureCode): string {
  return `99_${natures[nature].code}`;
}

/** A file of the act: its name as the agent gave it, its size and its SHA-256. */
export const actFile = z.object({
  fileName: z.string().min(1).max(255),
  mimeType: z.enum(["application/pdf", "application/xml"], { error: "must be a PDF (application/pdf), or for a budget document XML (application/xml)" }),
  size: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be the file's SHA-256, 64 hexadecimal digits"),
  typology: z.string().regex(typologyPattern, "must be an @ctes typology such as 99_DE or 41_NC (two digits, '_', two capitals or digits)").optional(),
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
      .regex(/^[1-9](\.[1-9][0-9]?){1,4}$/, "must be a matière code of two to five levels such as 1.1 or 7.1.2 (CodeMatiere1 and CodeMatiere2 are required)"),
    objet: z.string().trim().min(1, "must not be empty").max(499, "must be at most 499 characters").superRefine(latin1Text("the object")),
    date: z.iso.date("must be a date such as 2026-11-28"),
    /** The act is also sent on paper (DocumentPapier): some annexes too large or not digitisable. */
    documentPapier: z.boolean().default(false),
    /** The identifier of the act this one replaces (PrecedentIdentifiantActe), as the prefecture gave it. */
    precedent: z
      .string()
      .regex(/^([0-9]{3}|0[0-9][AB])-[0-9]{9}-[0-9]{8}-[0-9A-Z_]{2,15}-(DE|AR|AI|CC|BF|AU)$/, "must be the identifier of an act, such as 035-213502388-20261128-D2026_001-DE")
      .optional(),
    document: actFile,
    annexes: z.array(actFile).max(50).default([]),
  })
  .superRefine((act, context) => {
    [act.document, ...act.annexes].forEach((file, i) => {
      if (file.mimeType === "application/xml" && act.nature !== 5) {
        context.addIssue({ code: "custom", path: i === 0 ? ["document", "mimeType"] : ["annexes", i - 1, "mimeType"], message: "only a budget document (nature 5) may be XML; the others are PDF" });
      }
    });
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

/** True when the bytes start like an XML document (a budget document in the TOTEM format, say). */
export function looksLikeXml(head: Uint8Array): boolean {
  return /^(\uFEFF)?\s*<(\?xml|[A-Za-z])/.test(Buffer.from(head.subarray(0, 64)).toString("latin1").replace(/^\xEF\xBB\xBF/, ""));
}

/** The largest signature file accepted: a CAdES signature with its certificate chain fits in far less. */
export const maxSignatureBytes = 64 * 1024;

/**
 * True when the bytes are a DER CMS ContentInfo of type signedData (OID 1.2.840.113549.1.7.2):
 * what a detached CAdES signature is. Whether it verifies is for the tools that check signatures.
 */
export function looksLikeCmsSignedData(der: Uint8Array): boolean {
  const signedData = Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]);
  return der.length > 16 && der.length <= maxSignatureBytes && der[0] === 0x30 && Buffer.from(der.subarray(0, 24)).includes(signedData);
}

/** An act's date may not be in the future (checked with the clock injected). */
export function isFutureDate(date: string, now: Date): boolean {
  return date > now.toISOString().slice(0, 10);
}
