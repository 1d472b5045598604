import { createHash } from "node:crypto";
import { writeArchive, type ArchivedFile } from "@mutualis/service-kit";
import { cadesDetached } from "./cades.ts";
import type { KeyAndCertificate } from "./pki.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** What goes in a folder's evidence bundle, already read. */
export interface EvidenceContent {
  readonly folder: string;
  readonly collectivity: string;
  /** The history and summary, as the API gives them. */
  readonly history: unknown;
  readonly documents: readonly { readonly name: string; readonly original: Buffer; readonly signed?: Buffer; readonly detached: readonly Buffer[]; readonly extension: string }[];
  readonly authorityPem: string;
  readonly revocationsPem: string;
  readonly sealPem: string;
  readonly signers: readonly { readonly serial: string; readonly certificatePem: string }[];
}

const readme = (c: EvidenceContent, signedNames: string[], detachedNames: [string, string][]) => `Dossier de preuve du dossier ${c.folder} (${c.collectivity})

Ce paquet se vérifie avec des outils standard, sans la plateforme :

1. Les empreintes de chaque fichier :
     sha256sum -c empreintes.sha256

2. La liste des empreintes, scellée par la collectivité (CAdES détaché) :
     openssl cms -verify -binary -inform DER -in empreintes.sha256.p7s -content empreintes.sha256 -CAfile autorite.pem -purpose any -out /dev/null

3. Les certificats des signataires et du cachet, émis par l'autorité de la collectivité,
   avec sa liste de révocation :
     openssl verify -crl_check -CAfile autorite.pem -CRLfile revocations.crl.pem cachet.pem signataire-*.pem
${signedNames.length ? `
4. Les documents signés dans le document (PAdES pour un PDF) :
${signedNames.map((n) => (n.endsWith(".pdf") ? `     pdfsig ${n}   (avec autorite.pem dans une base NSS : certutil -A -t "CT,C,C")` : `     xmlsec1 --verify --trusted-pem autorite.pem --id-attr:Id Bordereau ${n}`)).join("\n")}
` : ""}${detachedNames.length ? `
5. Les signatures détachées (CAdES, .p7s) de chaque document original :
${detachedNames.map(([signature, original]) => `     openssl cms -verify -binary -inform DER -in ${signature} -content ${original} -CAfile autorite.pem -purpose any -out /dev/null`).join("\n")}
` : ""}
historique.json retrace qui a fait quoi et quand, avec les empreintes de ce que chaque signature a produit.
`;

/**
 * The evidence bundle of a finished folder, a flat tar.gz: the documents as sent and as signed,
 * the detached signatures, the history, the authority's and the signers' certificates, the
 * revocation list, the SHA-256 of every file (`sha256sum -c` format) and that list sealed with
 * the collectivity's seal: a third party checks it all with sha256sum, openssl, pdfsig, xmlsec1.
 */
export async function evidenceBundle(content: EvidenceContent, seal: KeyAndCertificate, at: Date): Promise<Buffer> {
  const files: ArchivedFile[] = [];
  const signedNames: string[] = [];
  const detachedNames: [string, string][] = [];
  content.documents.forEach((document, index) => {
    const base = `document-${index + 1}`;
    files.push({ name: `${base}-original.${document.extension}`, content: document.original });
    if (document.signed) {
      signedNames.push(`${base}-signe.${document.extension}`);
      files.push({ name: `${base}-signe.${document.extension}`, content: document.signed });
    }
    document.detached.forEach((signature, n) => {
      detachedNames.push([`${base}-signature-${n + 1}.p7s`, `${base}-original.${document.extension}`]);
      files.push({ name: `${base}-signature-${n + 1}.p7s`, content: signature });
    });
  });
  files.push({ name: "historique.json", content: Buffer.from(JSON.stringify(content.history, null, 2) + "\n") });
  files.push({ name: "autorite.pem", content: Buffer.from(content.authorityPem) });
  files.push({ name: "revocations.crl.pem", content: Buffer.from(content.revocationsPem) });
  files.push({ name: "cachet.pem", content: Buffer.from(content.sealPem) });
  for (const signer of content.signers) files.push({ name: `signataire-${signer.serial}.pem`, content: Buffer.from(signer.certificatePem) });
  files.unshift({ name: "LISEZMOI.txt", content: Buffer.from(readme(content, signedNames, detachedNames)) });
  const manifest = Buffer.from(files.map((f) => `${sha256(f.content)}  ${f.name}\n`).join(""));
  files.push({ name: "empreintes.sha256", content: manifest });
  files.push({ name: "empreintes.sha256.p7s", content: await cadesDetached(manifest, seal, [content.authorityPem], at) });
  return writeArchive(files, at);
}

/** The extension a document's files keep in the bundle. */
export function extensionOf(name: string, mimeType: string): string {
  const own = /\.([A-Za-z0-9]{1,8})$/.exec(name)?.[1]?.toLowerCase();
  if (own) return own;
  return mimeType === "application/pdf" ? "pdf" : mimeType.endsWith("xml") ? "xml" : "bin";
}
