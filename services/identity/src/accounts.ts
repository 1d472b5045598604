import { createHash, randomUUID } from "node:crypto";
import { Conflict, NotFound, Repository, roles as allRoles, type Database, type Role } from "@mutualis/service-kit";
import { afterFailure, isLocked, type Attempts, type LockoutPolicy } from "./lockout.ts";

export interface Membership {
  collectivity: string;
  roles: Role[];
  /** An administrator deactivated the person here: they keep the membership, with no rights. */
  deactivatedAt?: Date;
}

/** A person who signs in: an agent of collectivities, or a user acting for a company. */
export interface Account {
  /** The OpenID Connect subject: stable, never reused. */
  _id: string;
  kind: "agent" | "company";
  /** Lower case; one account per address. */
  email: string;
  emailVerified: boolean;
  givenName: string;
  usualName: string;
  passwordHash?: string;
  memberships: Membership[];
  company?: { siret: string; name: string };
  active: boolean;
  createdAt: Date;
  lastSignInAt?: Date;
  /** The person as ProConnect knows them (its pairwise subject for the platform, their establishment). */
  proconnect?: { sub: string; siret?: string; idpId?: string; linkedAt: Date };
  /** The secret of the person's authenticator application (TOTP), and the time step of the last code used. */
  totp?: { secret: string; lastStep: number; enrolledAt?: Date };
}

export type NewAccount = Pick<Account, "kind" | "email" | "givenName" | "usualName"> & Partial<Pick<Account, "passwordHash" | "memberships" | "company" | "emailVerified">>;

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

/** The roles a person holds per collectivity, as tokens carry them: deactivated memberships give none. */
export function membershipsClaim(account: Pick<Account, "memberships">): Record<string, Role[]> {
  return Object.fromEntries(account.memberships.filter((m) => !m.deactivatedAt).map((m) => [m.collectivity, m.roles.filter((r) => allRoles.includes(r))]));
}

/**
 * Accounts, found by their subject or their address. The address is also the key (`_id`) of a
 * small collection pointing to the account: a lookup by key is what every database behind
 * FerretDB answers without reading the whole collection (a sign-in among 37,000 accounts), and the
 * key makes an address unique without a transaction.
 */
export class AccountRepository extends Repository<Account> {
  private readonly attempts;
  private readonly emails;

  constructor(database: Database) {
    super(database, "accounts");
    this.attempts = database.collection<Attempts & { _id: string }>("sign_in_attempts");
    this.emails = database.collection<{ _id: string; accountId: string }>("account_emails");
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ email: 1 }, { unique: true });
    await this.collection.createIndex({ "memberships.collectivity": 1 });
    // Accounts made before the addresses had their own keys get theirs.
    if ((await this.emails.estimatedDocumentCount()) < (await this.collection.estimatedDocumentCount())) {
      for await (const account of this.collection.find({}, { projection: { _id: 1, email: 1 } })) {
        await this.emails.updateOne({ _id: account.email }, { $setOnInsert: { accountId: account._id } }, { upsert: true });
      }
    }
  }

  async create(account: NewAccount): Promise<Account> {
    const record: Account = {
      _id: randomUUID(),
      memberships: [],
      emailVerified: false,
      active: true,
      createdAt: new Date(),
      ...account,
      email: normalizeEmail(account.email),
    };
    try {
      await this.emails.insertOne({ _id: record.email, accountId: record._id });
    } catch (error) {
      if ((error as { code?: number }).code === 11000) throw new Conflict(`an account exists already for ${record.email}`);
      throw error;
    }
    try {
      await this.collection.insertOne(record);
    } catch (error) {
      await this.emails.deleteOne({ _id: record.email, accountId: record._id });
      if ((error as { code?: number }).code === 11000) throw new Conflict(`an account exists already for ${record.email}`);
      throw error;
    }
    return record;
  }

  findById(id: string): Promise<Account | null> {
    return this.collection.findOne({ _id: id });
  }

  async findByEmail(email: string): Promise<Account | null> {
    const entry = await this.emails.findOne({ _id: normalizeEmail(email) });
    return entry ? this.collection.findOne({ _id: entry.accountId }) : null;
  }

  /** Keeps the person's TOTP secret (at enrollment) and the step of the code just used. */
  async setTotp(id: string, totp: { secret: string; lastStep: number; enrolledAt?: Date }): Promise<void> {
    const set: Record<string, unknown> = { "totp.secret": totp.secret, "totp.lastStep": totp.lastStep };
    if (totp.enrolledAt) set["totp.enrolledAt"] = totp.enrolledAt;
    await this.collection.updateOne({ _id: id }, { $set: set });
  }

  /** The person followed the link sent to their address. */
  async confirmEmail(id: string): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $set: { emailVerified: true } });
  }

  /** Records how ProConnect knows the person, at each sign-in through it. */
  async linkProConnect(id: string, link: { sub: string; siret?: string; idpId?: string }): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $set: { proconnect: { ...link, linkedAt: new Date() } } });
  }

  async require(id: string): Promise<Account> {
    const account = await this.findById(id);
    if (!account) throw new NotFound(`no account ${id}`);
    return account;
  }

  async signedIn(id: string, at: Date): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $set: { lastSignInAt: at } });
  }

  /** The members of a collectivity (active or deactivated there). */
  membersOf(collectivity: string): Promise<Account[]> {
    return this.collection.find({ "memberships.collectivity": collectivity }).sort({ email: 1 }).limit(5000).toArray();
  }

  /** Sets a person's roles in a collectivity, making them a member if they were not. */
  async setMembership(id: string, collectivity: string, roles: Role[]): Promise<Account> {
    const account = await this.require(id);
    const others = account.memberships.filter((m) => m.collectivity !== collectivity);
    const memberships = [...others, { collectivity, roles: [...new Set(roles)] }];
    await this.collection.updateOne({ _id: id }, { $set: { memberships } });
    return { ...account, memberships };
  }

  async removeMembership(id: string, collectivity: string): Promise<Account> {
    const account = await this.require(id);
    const memberships = account.memberships.filter((m) => m.collectivity !== collectivity);
    await this.collection.updateOne({ _id: id }, { $set: { memberships } });
    return { ...account, memberships };
  }

  async deactivateMembership(id: string, collectivity: string, at: Date): Promise<Account> {
    const account = await this.require(id);
    const memberships = account.memberships.map((m) => (m.collectivity === collectivity ? { ...m, deactivatedAt: at } : m));
    await this.collection.updateOne({ _id: id }, { $set: { memberships } });
    return { ...account, memberships };
  }

  // Failed sign-ins are kept by a digest of the address, known account or not.
  private attemptKey(email: string): string {
    return createHash("sha256").update(normalizeEmail(email)).digest("base64url");
  }

  async locked(email: string, now: Date): Promise<boolean> {
    return isLocked((await this.attempts.findOne({ _id: this.attemptKey(email) })) ?? undefined, now);
  }

  /** Counts a failure; true when the address is now locked. */
  async failed(email: string, policy: LockoutPolicy, now: Date): Promise<boolean> {
    const _id = this.attemptKey(email);
    const next = afterFailure((await this.attempts.findOne({ _id })) ?? undefined, policy, now);
    await this.attempts.replaceOne({ _id }, next, { upsert: true });
    return isLocked(next, now);
  }

  async succeeded(email: string): Promise<void> {
    await this.attempts.deleteOne({ _id: this.attemptKey(email) });
  }
}
