import "reflect-metadata";
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** ECDSA on P-256 with SHA-256: what pdfsig, openssl and xmlsec1 all verify. */
const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A certificate and its private key (PKCS#8, DER): the key is plaintext only in memory, sealed at rest. */
export interface KeyAndCertificate {
  readonly certificatePem: string;
  readonly privateKey: Buffer;
}

/** Who a certificate names: a person of the collectivity (a signer) or the collectivity itself (its seal). */
export interface CertificateSubject {
  readonly commonName: string;
  /** The role the person signs in ("Maire", "Vice-présidente aux finances"). */
  readonly title?: string;
  readonly email?: string;
}

export interface Collectivity {
  readonly name: string;
  readonly displayName: string;
  readonly siren: string;
}

const day = 86_400_000;
/** A random positive serial of 16 bytes, hexadecimal. */
const serialNumber = () => {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  bytes[0]! |= 0x01;
  return bytes.toString("hex");
};
/** Names written as X.500 wants them: a comma or a plus inside a value is escaped. */
const value = (text: string) => text.replace(/([,+"\\<>;=])/g, "\\$1");
const organisation = (c: Collectivity) => `O=${value(c.displayName)}, 2.5.4.97=NTRFR-${c.siren}, C=FR`;

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function pkcs8(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
}

export async function importPrivateKey(der: Buffer): Promise<CryptoKey> {
  return webcrypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]);
}

/**
 * The certificate authority of one collectivity: it issues the certificates of the people who
 * sign for it and of its seal, and nothing else (path length 0). Ten years; the certificates it
 * issues, three.
 */
export async function createAuthority(collectivity: Collectivity, now = new Date()): Promise<KeyAndCertificate> {
  const keys = await keyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${value(`Autorité de certification de ${collectivity.displayName}`)}, ${organisation(collectivity)}`,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + 10 * 365 * day),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificatePem: certificate.toString("pem"), privateKey: await pkcs8(keys.privateKey) };
}

/**
 * A certificate for signing, issued by the collectivity's authority: a person's (their name, the
 * role they sign in) or the collectivity's seal (the organisation alone). Digital signature and
 * non-repudiation only.
 */
export async function issueCertificate(
  authority: KeyAndCertificate,
  collectivity: Collectivity,
  kind: "signer" | "seal",
  subject: CertificateSubject,
  now = new Date(),
): Promise<KeyAndCertificate> {
  const ca = new x509.X509Certificate(authority.certificatePem);
  const keys = await keyPair();
  const name =
    kind === "seal"
      ? `CN=${value(`Cachet de ${collectivity.displayName}`)}, ${organisation(collectivity)}`
      : [`CN=${value(subject.commonName)}`, ...(subject.title ? [`2.5.4.12=${value(subject.title)}`] : []), ...(subject.email ? [`1.2.840.113549.1.9.1=${value(subject.email)}`] : []), organisation(collectivity)].join(", ");
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: name,
    issuer: ca.subject,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + 3 * 365 * day),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: await importPrivateKey(authority.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return { certificatePem: certificate.toString("pem"), privateKey: await pkcs8(keys.privateKey) };
}

/**
 * A private key sealed for storage: AES-256-GCM under a key of the collectivity's own, derived
 * from the platform's master key (HKDF-SHA-256, the collectivity's name as context), so one
 * collectivity's sealed keys cannot be opened as another's. Layout: version, IV, tag, ciphertext.
 */
export function sealPrivateKey(masterKey: Buffer, collectivity: string, privateKey: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(masterKey, collectivity), iv);
  cipher.setAAD(Buffer.from(collectivity));
  const sealed = Buffer.concat([cipher.update(privateKey), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), sealed]);
}

/** The key sealed by sealPrivateKey; throws if it was sealed for another collectivity or altered. */
export function openPrivateKey(masterKey: Buffer, collectivity: string, sealed: Buffer): Buffer {
  if (sealed[0] !== 1 || sealed.length < 1 + 12 + 16 + 1) throw new Error("not a sealed key of this version");
  const decipher = createDecipheriv("aes-256-gcm", keyOf(masterKey, collectivity), sealed.subarray(1, 13));
  decipher.setAAD(Buffer.from(collectivity));
  decipher.setAuthTag(sealed.subarray(13, 29));
  return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]);
}

function keyOf(masterKey: Buffer, collectivity: string): Buffer {
  if (masterKey.length !== 32) throw new Error("the master key must be 32 bytes");
  return Buffer.from(hkdfSync("sha256", masterKey, Buffer.from("mutualis-parapheur-keys"), Buffer.from(collectivity), 32));
}

/** A revoked certificate: its serial (hexadecimal) and when. */
export interface Revocation {
  readonly serial: string;
  readonly at: Date;
}

/**
 * The authority's certificate revocation list (CRL v2, with its number and the authority's key
 * identifier), valid a week: what `openssl verify -crl_check` reads to refuse a revoked signer.
 */
export async function revocationList(authority: KeyAndCertificate, revoked: readonly Revocation[], number: number, now = new Date()): Promise<string> {
  const ca = new x509.X509Certificate(authority.certificatePem);
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.subject,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + 7 * day),
    entries: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: r.at })),
    signingAlgorithm: algorithm,
    signingKey: await importPrivateKey(authority.privateKey),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca), new x509.Extension("2.5.29.20", false, crlNumber(number))],
  });
  // The label openssl reads (RFC 7468): "X509 CRL".
  return x509.PemConverter.encode(crl.rawData, "X509 CRL");
}

/** The CRL number extension's value: a DER INTEGER. */
function crlNumber(number: number): ArrayBuffer {
  let hex = number.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  const bytes = Buffer.from(hex, "hex");
  return Uint8Array.from([0x02, bytes.length, ...bytes]).buffer;
}

/** The serial number of a certificate, hexadecimal, as the CRL and openssl name it. */
export function serialOf(certificatePem: string): string {
  return new x509.X509Certificate(certificatePem).serialNumber;
}
