import { cadesDetached } from "./cades.ts";
import { padesSign, PdfError } from "./pades.ts";
import type { KeyAndCertificate } from "./pki.ts";
import { formatFor, type SignatureFormat } from "./typology.ts";
import { bordereauIds, xadesEnveloped, xmlEncoding } from "./xades.ts";

/** What a signature gives a document: its new version (PAdES, XAdES inside it) or a detached signature beside it (CAdES). */
export interface SignedDocument {
  readonly format: Exclude<SignatureFormat, "AUTO">;
  readonly document?: Buffer;
  readonly detached?: Buffer;
}

/** A document that cannot be signed in its type's format, with the reason for the person who sent it. */
export class SigningError extends Error {
  override name = "SigningError";
}

/**
 * Signs one document in its type's format: `latest` is its last version (a PDF signed before
 * is signed again; a CAdES signature is always of the original, `original`).
 */
export async function signDocument(
  format: SignatureFormat,
  mimeType: string,
  original: Buffer,
  latest: Buffer,
  signer: KeyAndCertificate,
  chain: readonly string[],
  at: Date,
  details: { readonly name: string; readonly reason: string; readonly location?: string },
): Promise<SignedDocument> {
  const chosen = formatFor(format, mimeType);
  switch (chosen) {
    case "PKCS7":
      return { format: chosen, detached: await cadesDetached(original, signer, chain, at) };
    case "PADES":
      if (mimeType !== "application/pdf") throw new SigningError(`a ${mimeType} document cannot be signed in PAdES: PAdES signs PDFs`);
      try {
        return { format: chosen, document: await padesSign(latest, signer, chain, at, details) };
      } catch (error) {
        if (error instanceof PdfError) throw new SigningError(error.message);
        throw error;
      }
    case "PES_V2": {
      const ids = bordereauIds(latest);
      if (ids.length === 0) throw new SigningError("the document is not a PES with a bordereau to sign (Bordereau elements with an Id)");
      let document = latest;
      try {
        for (const id of ids) document = xadesEnveloped(document, id, signer, at, xmlEncoding(latest));
      } catch (error) {
        throw new SigningError((error as Error).message);
      }
      return { format: chosen, document };
    }
  }
}
