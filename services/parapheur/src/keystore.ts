import { Binary } from "mongodb";
import { Conflict, Forbidden, isDuplicateKey, NotFound, Repository, type Database, type Tenant } from "@mutualis/service-kit";
import { createAuthority, issueCertificate, openPrivateKey, revocationList, sealPrivateKey, serialOf, type CertificateSubject, type KeyAndCertificate } from "./domain/pki.ts";

/** A collectivity's authority and seal: certificates, and keys sealed under the collectivity's own key. */
interface AuthorityRecord {
  _id: string;
  certificatePem: string;
  sealedKey: Binary;
  seal: { certificatePem: string; sealedKey: Binary };
  createdAt: Date;
}

/** A signer's certificate: whose, issued by whom, revoked or not. */
export interface CertificateRecord {
  _id: string;
  collectivity: string;
  email: string;
  commonName: string;
  title?: string;
  certificatePem: string;
  sealedKey: Binary;
  issuedAt: Date;
  issuedBy: string;
  revokedAt?: Date;
  revokedBy?: string;
  revocationReason?: string;
}

/** A certificate as the API shows it: never its key. */
export const certificateView = (c: CertificateRecord) => ({
  serial: c._id,
  email: c.email,
  commonName: c.commonName,
  ...(c.title ? { title: c.title } : {}),
  certificatePem: c.certificatePem,
  issuedAt: c.issuedAt.toISOString(),
  issuedBy: c.issuedBy,
  ...(c.revokedAt ? { revokedAt: c.revokedAt.toISOString(), revokedBy: c.revokedBy, revocationReason: c.revocationReason } : {}),
});

const identity = (tenant: Tenant) => ({ name: tenant._id, displayName: tenant.displayName, siren: tenant.siren });

/**
 * Each collectivity's certificate authority, its seal and its signers' certificates. Private keys
 * are kept sealed (AES-GCM under a key derived for the collectivity from the master key) and
 * opened in memory only to sign; none is ever returned, logged or put in an error.
 */
export class KeyStore extends Repository<CertificateRecord> {
  private readonly authorities;

  constructor(
    database: Database,
    private readonly masterKey: Buffer,
  ) {
    super(database, "certificates");
    this.authorities = database.collection<AuthorityRecord>("authorities");
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ collectivity: 1, email: 1, issuedAt: -1 });
  }

  private seal(collectivity: string, key: Buffer): Binary {
    return new Binary(sealPrivateKey(this.masterKey, collectivity, key));
  }

  private open(collectivity: string, certificatePem: string, sealed: Binary): KeyAndCertificate {
    return { certificatePem, privateKey: openPrivateKey(this.masterKey, collectivity, Buffer.from(sealed.buffer)) };
  }

  /** Authorities already read: an authority, once made, never changes. */
  private readonly opened = new Map<string, Promise<{ ca: KeyAndCertificate; seal: KeyAndCertificate }>>();

  /** The collectivity's authority and seal, made the first time they are needed (two replicas racing make one). */
  authority(tenant: Tenant): Promise<{ ca: KeyAndCertificate; seal: KeyAndCertificate }> {
    let found = this.opened.get(tenant._id);
    if (!found) {
      found = this.readOrMake(tenant);
      this.opened.set(tenant._id, found);
      found.catch(() => this.opened.delete(tenant._id));
    }
    return found;
  }

  private async readOrMake(tenant: Tenant): Promise<{ ca: KeyAndCertificate; seal: KeyAndCertificate }> {
    let record = await this.authorities.findOne({ _id: tenant._id });
    if (!record) {
      const ca = await createAuthority(identity(tenant));
      const seal = await issueCertificate(ca, identity(tenant), "seal", { commonName: tenant.displayName });
      const made = { _id: tenant._id, certificatePem: ca.certificatePem, sealedKey: this.seal(tenant._id, ca.privateKey), seal: { certificatePem: seal.certificatePem, sealedKey: this.seal(tenant._id, seal.privateKey) }, createdAt: new Date() };
      try {
        await this.authorities.insertOne(made);
        record = made;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        record = (await this.authorities.findOne({ _id: tenant._id }))!;
      }
    }
    return { ca: this.open(tenant._id, record.certificatePem, record.sealedKey), seal: this.open(tenant._id, record.seal.certificatePem, record.seal.sealedKey) };
  }

  /** A certificate for a person of the collectivity; one in force at a time: the one before is revoked first. */
  async issue(tenant: Tenant, email: string, subject: CertificateSubject, by: string): Promise<CertificateRecord> {
    const person = email.toLowerCase();
    const inForce = await this.collection.findOne({ collectivity: tenant._id, email: person, revokedAt: { $exists: false } });
    if (inForce) throw new Conflict(`${person} already has a certificate in force (${inForce._id}): revoke it first`);
    const { ca } = await this.authority(tenant);
    const issued = await issueCertificate(ca, identity(tenant), "signer", { ...subject, email: person });
    const record: CertificateRecord = {
      _id: serialOf(issued.certificatePem),
      collectivity: tenant._id,
      email: person,
      commonName: subject.commonName,
      ...(subject.title ? { title: subject.title } : {}),
      certificatePem: issued.certificatePem,
      sealedKey: this.seal(tenant._id, issued.privateKey),
      issuedAt: new Date(),
      issuedBy: by,
    };
    await this.collection.insertOne(record);
    return record;
  }

  async revoke(collectivity: string, serial: string, by: string, reason: string): Promise<CertificateRecord> {
    const revoked = await this.collection.findOneAndUpdate(
      { _id: serial, collectivity, revokedAt: { $exists: false } },
      { $set: { revokedAt: new Date(), revokedBy: by, revocationReason: reason } },
      { returnDocument: "after" },
    );
    if (revoked) return revoked;
    const existing = await this.collection.findOne({ _id: serial, collectivity });
    if (!existing) throw new NotFound(`no certificate ${serial} in collectivity ${collectivity}`);
    throw new Conflict(`certificate ${serial} was revoked already`);
  }

  list(collectivity: string): Promise<CertificateRecord[]> {
    return this.collection.find({ collectivity }).sort({ issuedAt: -1 }).limit(1000).toArray();
  }

  /**
   * The key a person signs with now: their certificate in force. A person whose last certificate
   * was revoked is told so; one who never had one, to ask their administrator.
   */
  async signerKey(collectivity: string, email: string): Promise<{ record: CertificateRecord; key: KeyAndCertificate }> {
    const last = await this.collection.find({ collectivity, email: email.toLowerCase() }).sort({ issuedAt: -1 }).limit(1).next();
    if (!last) throw new Forbidden("you have no signing certificate: your administrator issues one");
    if (last.revokedAt) throw new Forbidden(`your signing certificate was revoked on ${last.revokedAt.toISOString()}: you cannot sign until a new one is issued`);
    return { record: last, key: this.open(collectivity, last.certificatePem, last.sealedKey) };
  }

  /** The authority's current revocation list, numbered by the revocations it lists. */
  async revocationList(tenant: Tenant): Promise<string> {
    const revoked = await this.collection.find({ collectivity: tenant._id, revokedAt: { $exists: true } }).sort({ revokedAt: 1 }).toArray();
    const { ca } = await this.authority(tenant);
    return revocationList(ca, revoked.map((r) => ({ serial: r._id, at: r.revokedAt! })), revoked.length + 1);
  }
}
