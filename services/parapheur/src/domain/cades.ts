import { createHash, webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { importPrivateKey, type KeyAndCertificate } from "./pki.ts";

pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as never }));

const oid = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
};

const derOf = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
const certificateOf = (pem: string) => pkijs.Certificate.fromBER(derOf(pem));

/**
 * ESS signing-certificate-v2 (RFC 5035): the signer's certificate by its SHA-256 (the default
 * algorithm, so not named) and its issuer and serial, which binds the signature to that certificate.
 */
function signingCertificateV2(certificate: pkijs.Certificate, der: Buffer): asn1js.Sequence {
  const issuerSerial = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 4 }, value: [certificate.issuer.toSchema()] })] }),
      new asn1js.Integer({ valueHex: certificate.serialNumber.valueBlock.valueHexView }),
    ],
  });
  const essCertIdV2 = new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: createHash("sha256").update(der).digest() }), issuerSerial] });
  return new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertIdV2] })] });
}

/**
 * A detached CAdES signature (CMS SignedData in DER, no content inside) over `content`: the
 * signed attributes @ctes and PAdES verifiers expect (content type, message digest, the signer's
 * certificate by its hash, and, unless `withSigningTime` is false, the signing time), the signer's
 * certificate and its chain embedded. Verified by `openssl cms -verify -binary -content …`.
 */
export async function cadesDetached(
  content: Uint8Array,
  signer: KeyAndCertificate,
  chain: readonly string[],
  signingTime: Date,
  withSigningTime = true,
): Promise<Buffer> {
  const der = derOf(signer.certificatePem);
  const certificate = pkijs.Certificate.fromBER(der);
  const attributes = [
    new pkijs.Attribute({ type: oid.contentType, values: [new asn1js.ObjectIdentifier({ value: oid.data })] }),
    new pkijs.Attribute({ type: oid.messageDigest, values: [new asn1js.OctetString({ valueHex: createHash("sha256").update(content).digest() })] }),
    new pkijs.Attribute({ type: oid.signingCertificateV2, values: [signingCertificateV2(certificate, der)] }),
    ...(withSigningTime ? [new pkijs.Attribute({ type: oid.signingTime, values: [new asn1js.UTCTime({ valueDate: signingTime })] })] : []),
  ];
  // A SET OF in DER is sorted by the encodings of its elements.
  const encoded = (attribute: pkijs.Attribute) => Buffer.from(attribute.toSchema().toBER());
  attributes.sort((a, b) => Buffer.compare(encoded(a), encoded(b)));
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: oid.data }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: certificate.issuer, serialNumber: certificate.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
      }),
    ],
    certificates: [certificate, ...chain.map(certificateOf)],
  });
  await signed.sign(await importPrivateKey(signer.privateKey), 0, "SHA-256");
  const contentInfo = new pkijs.ContentInfo({ contentType: oid.signedData, content: signed.toSchema(true) });
  return Buffer.from(contentInfo.toSchema().toBER());
}
