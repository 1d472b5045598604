import { createHash, createPrivateKey, sign } from "node:crypto";
import { DOMParser, XMLSerializer, type Element } from "@xmldom/xmldom";
import * as x509 from "@peculiar/x509";
import { ExclusiveCanonicalization } from "xml-crypto";
import type { KeyAndCertificate } from "./pki.ts";

const ds = "http://www.w3.org/2000/09/xmldsig#";
const xades = "http://uri.etsi.org/01903/v1.3.2#";
const excC14n = "http://www.w3.org/2001/10/xml-exc-c14n#";
const sha256Uri = "http://www.w3.org/2001/04/xmlenc#sha256";

const canonical = (element: Element) => new ExclusiveCanonicalization().process(element as never, {});
const digest = (text: string) => createHash("sha256").update(text, "utf8").digest("base64");
const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function byId(root: Element, id: string): Element | undefined {
  if (root.getAttribute("Id") === id) return root;
  for (let child = root.firstChild; child; child = child.nextSibling) {
    if (child.nodeType === 1) {
      const found = byId(child as Element, id);
      if (found) return found;
    }
  }
  return undefined;
}

/** The Ids of a PES's bordereaux (the elements its ordonnateur signs), in document order. */
export function bordereauIds(xml: Buffer): string[] {
  const document = new DOMParser().parseFromString(xml.toString(xmlEncoding(xml)), "text/xml");
  return Array.from(document.getElementsByTagName("Bordereau") as unknown as ArrayLike<Element>)
    .map((element) => element.getAttribute("Id"))
    .filter((id): id is string => Boolean(id));
}

/** The encoding an XML declaration names: ISO-8859-1 (a PES's) read as latin-1, anything else as UTF-8. */
export function xmlEncoding(xml: Buffer): "latin1" | "utf8" {
  const declaration = /^<\?xml[^>]*encoding=["']([^"']+)["']/i.exec(xml.subarray(0, 200).toString("latin1"));
  return declaration && /^(iso-8859-1|latin-?1)$/i.test(declaration[1]!) ? "latin1" : "utf8";
}

/**
 * An enveloped XAdES signature (XAdES-BES) of the element whose `Id` is `id` (a PES bordereau):
 * `ds:Signature` as the element's last child, referencing it (enveloped-signature transform, then
 * exclusive C14N, SHA-256) and its SignedProperties (signing time, the signer's certificate by
 * its SHA-256, issuer and serial), signed with ECDSA P-256 (r‖s, as XML DSig wants it). The
 * document keeps its encoding (ISO-8859-1 for a PES). Verified by `xmlsec1 --verify
 * --trusted-pem <ca> --id-attr:Id <element> <file>`.
 */
export function xadesEnveloped(xml: Buffer, id: string, signer: KeyAndCertificate, signingTime: Date, encoding: "latin1" | "utf8" = "latin1"): Buffer {
  const document = new DOMParser().parseFromString(xml.toString(encoding), "text/xml");
  const target = byId(document.documentElement as unknown as Element, id);
  if (!target) throw new Error(`the document has no element with Id ${id}`);
  // An enveloped signature covers every signature beside it: a second one would break the first.
  if (target.getElementsByTagNameNS(ds, "Signature").length > 0) throw new Error(`the element ${id} is already signed`);
  // The enveloped transform removes the signature: the element's digest is its form without it.
  const contentDigest = digest(canonical(target));
  const certificate = new x509.X509Certificate(signer.certificatePem);
  const signatureId = `SIG-${id}`;
  const properties = `${signatureId}-SP`;
  const signedProperties =
    `<xades:SignedProperties Id="${properties}"><xades:SignedSignatureProperties>` +
    `<xades:SigningTime>${signingTime.toISOString().replace(/\.\d{3}Z$/, "Z")}</xades:SigningTime>` +
    `<xades:SigningCertificate><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="${sha256Uri}"/>` +
    `<ds:DigestValue>${createHash("sha256").update(Buffer.from(certificate.rawData)).digest("base64")}</ds:DigestValue></xades:CertDigest>` +
    `<xades:IssuerSerial><ds:X509IssuerName>${escape(certificate.issuer)}</ds:X509IssuerName>` +
    `<ds:X509SerialNumber>${BigInt(`0x${certificate.serialNumber}`).toString()}</ds:X509SerialNumber></xades:IssuerSerial>` +
    `</xades:Cert></xades:SigningCertificate></xades:SignedSignatureProperties></xades:SignedProperties>`;
  const reference = (uri: string, transforms: string[], value: string, type?: string) =>
    `<ds:Reference${type ? ` Type="${type}"` : ""} URI="${uri}"><ds:Transforms>${transforms.map((t) => `<ds:Transform Algorithm="${t}"/>`).join("")}</ds:Transforms>` +
    `<ds:DigestMethod Algorithm="${sha256Uri}"/><ds:DigestValue>${value}</ds:DigestValue></ds:Reference>`;
  const signedInfo = (propertiesDigest: string) =>
    `<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${excC14n}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>` +
    reference(`#${id}`, ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", excC14n], contentDigest) +
    reference(`#${properties}`, [excC14n], propertiesDigest, "http://uri.etsi.org/01903#SignedProperties") +
    `</ds:SignedInfo>`;
  const signature = (propertiesDigest: string, value: string) =>
    `<ds:Signature xmlns:ds="${ds}" Id="${signatureId}">${signedInfo(propertiesDigest)}<ds:SignatureValue>${value}</ds:SignatureValue>` +
    `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${Buffer.from(certificate.rawData).toString("base64")}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>` +
    `<ds:Object><xades:QualifyingProperties xmlns:xades="${xades}" Target="#${signatureId}">${signedProperties}</xades:QualifyingProperties></ds:Object></ds:Signature>`;

  // In place, so each part is canonicalised with the namespaces it has in the document.
  const insert = (text: string) => {
    const node = new DOMParser().parseFromString(text, "text/xml").documentElement!;
    const imported = document.importNode(node, true);
    target.appendChild(imported as never);
    return imported as unknown as Element;
  };
  let placed = insert(signature("", ""));
  const propertiesDigest = digest(canonical(byId(placed, properties)!));
  target.removeChild(placed as never);
  placed = insert(signature(propertiesDigest, ""));
  const info = placed.getElementsByTagNameNS(ds, "SignedInfo")[0]!;
  const value = sign("sha256", Buffer.from(canonical(info), "utf8"), { key: createPrivateKey({ key: signer.privateKey, format: "der", type: "pkcs8" }), dsaEncoding: "ieee-p1363" });
  placed.getElementsByTagNameNS(ds, "SignatureValue")[0]!.appendChild(document.createTextNode(value.toString("base64")) as never);
  return Buffer.from(new XMLSerializer().serializeToString(document), encoding);
}
