import { z } from "zod";
import { circuitDefinition, deskId } from "./circuit.ts";

/**
 * iParapheur's typology: a type says the protocol its folders go on to (@ctes, Hélios, none) and
 * the format of their signatures; each of its subtypes has its circuit.
 */
export const protocols = ["ACTES", "HELIOS", "NONE"] as const;
/** PKCS7 is CAdES detached (a .p7s beside the document), PADES signs inside a PDF, PES_V2 is XAdES enveloped in the PES; AUTO chooses by the document. */
export const signatureFormats = ["PKCS7", "PADES", "PES_V2", "AUTO"] as const;
export type SignatureFormat = (typeof signatureFormats)[number];

export const subtypeDefinition = z
  .object({
    id: deskId,
    name: z.string().trim().min(1).max(200),
    circuit: circuitDefinition,
    /** Several documents per folder (the act and its annexes), or one. */
    multiDocuments: z.boolean().default(true),
  })
  .strict();

export const typeDefinition = z
  .object({
    id: deskId,
    name: z.string().trim().min(1).max(200),
    protocol: z.enum(protocols),
    signatureFormat: z.enum(signatureFormats),
    subtypes: z.array(subtypeDefinition).min(1, "a type has at least one subtype").max(50),
  })
  .strict()
  .superRefine((type, context) => {
    if (type.protocol === "HELIOS" && !["PES_V2", "AUTO"].includes(type.signatureFormat)) {
      context.addIssue({ code: "custom", path: ["signatureFormat"], message: "Hélios takes the PES signed in XAdES: PES_V2 or AUTO" });
    }
    if (type.protocol === "ACTES" && type.signatureFormat === "PES_V2") {
      context.addIssue({ code: "custom", path: ["signatureFormat"], message: "@ctes takes PDF acts signed in PAdES or beside them in CAdES (PKCS7), not PES" });
    }
    // An enveloped signature covers everything in its bordereau: a PES is signed once.
    if (type.signatureFormat === "PES_V2") {
      type.subtypes.forEach((subtype, index) => {
        const signing = subtype.circuit.filter((step) => step.type === "SEAL" || step.type === "SIGNATURE");
        if (signing.length !== 1 || (signing[0]!.type === "SIGNATURE" && (signing[0]!.quorum ?? 1) !== 1)) {
          context.addIssue({ code: "custom", path: ["subtypes", index, "circuit"], message: "a PES is signed once: its circuit has one signature of one desk, or the seal" });
        }
      });
    }
    const ids = type.subtypes.map((s) => s.id);
    ids.forEach((id, index) => {
      if (ids.indexOf(id) !== index) context.addIssue({ code: "custom", path: ["subtypes", index, "id"], message: `subtype ${id} is named twice` });
    });
  });
export type TypeDefinition = z.infer<typeof typeDefinition>;

/** The format a document is signed in, for its type's format and what the document is. */
export function formatFor(format: SignatureFormat, mimeType: string): Exclude<SignatureFormat, "AUTO"> {
  if (format !== "AUTO") return format;
  if (mimeType === "application/pdf") return "PADES";
  if (mimeType === "application/xml" || mimeType === "text/xml") return "PES_V2";
  return "PKCS7";
}
