import { generate, generateSecret, generateURI, verify } from "otplib";
import { z } from "zod";
import type { Database, TenantRepository } from "@mutualis/service-kit";
import type { Account, AccountRepository } from "./accounts.ts";

/** What a collectivity may set on the identity service (its ServiceInstance's settings). */
export const identityTenantSettings = z
  .object({
    /** Its administrators must give a code of their authenticator application (TOTP) at each sign-in by password. */
    administratorsTotp: z.boolean().default(false),
  })
  .strict();

/** Whether the person administers a collectivity that requires a second factor of its administrators. */
export async function secondFactorRequired(account: Pick<Account, "memberships">, tenants: TenantRepository): Promise<boolean> {
  for (const membership of account.memberships) {
    if (membership.deactivatedAt || !membership.roles.includes("administrateur")) continue;
    if ((await tenants.settingsOf(membership.collectivity)).administratorsTotp === true) return true;
  }
  return false;
}

/** A sign-in whose password was right, waiting for its code (five minutes, five tries). */
interface PendingCode {
  _id: string;
  accountId: string;
  /** A secret being enrolled: the person has not shown yet that their application holds it. */
  enrolling?: string;
  /** How the person proved who they are first: the sign-in is counted under it. */
  method: "password" | "proconnect";
  tries: number;
  createdAt: Date;
}

export const maximumTries = 5;

/** The codes' clock: 30-second steps, one step of tolerance either way for a phone's drift. */
const timing = { period: 30, epochTolerance: 30 } as const;

export class SecondFactor {
  private readonly pending;

  constructor(
    database: Database,
    private readonly accounts: AccountRepository,
  ) {
    this.pending = database.collection<PendingCode>("second_factor_pending");
  }

  /** After the password: the code is asked for; a secret to enroll is made if the person has none. */
  async begin(interaction: string, account: Account, method: PendingCode["method"]): Promise<{ enrolling?: { secret: string; uri: string } }> {
    const enrolling = account.totp ? undefined : generateSecret();
    await this.pending.replaceOne({ _id: interaction }, { accountId: account._id, method, ...(enrolling ? { enrolling } : {}), tries: 0, createdAt: new Date() }, { upsert: true });
    return enrolling ? { enrolling: { secret: enrolling, uri: generateURI({ issuer: "Mutualis", label: account.email, secret: enrolling }) } } : {};
  }

  /** The secret being enrolled and its otpauth address, to show again. */
  enrollment(waiting: PendingCode, email: string): { secret: string; uri: string } | undefined {
    return waiting.enrolling ? { secret: waiting.enrolling, uri: generateURI({ issuer: "Mutualis", label: email, secret: waiting.enrolling }) } : undefined;
  }

  /** What is waiting for this interaction, if anything still is. */
  async waiting(interaction: string): Promise<PendingCode | undefined> {
    const found = await this.pending.findOne({ _id: interaction });
    if (!found || Date.now() - found.createdAt.getTime() > 5 * 60_000 || found.tries >= maximumTries) return undefined;
    return found;
  }

  /**
   * Checks a code: against the secret being enrolled (kept once it is shown to work) or the
   * person's own; a code already used (its time step or an earlier one) is refused.
   */
  async check(waiting: PendingCode, code: string): Promise<{ account: Account; method: PendingCode["method"] } | "wrong" | "exhausted"> {
    const account = await this.accounts.require(waiting.accountId);
    const secret = waiting.enrolling ?? account.totp?.secret;
    const step = await acceptedStep(secret, code, waiting.enrolling ? undefined : account.totp?.lastStep);
    if (step === undefined) {
      const tries = waiting.tries + 1;
      await this.pending.updateOne({ _id: waiting._id }, { $set: { tries } });
      return tries >= maximumTries ? "exhausted" : "wrong";
    }
    await this.pending.deleteOne({ _id: waiting._id });
    await this.accounts.setTotp(account._id, { secret: secret!, lastStep: step, ...(waiting.enrolling ? { enrolledAt: new Date() } : {}) });
    return { account, method: waiting.method ?? "password" };
  }
}

/**
 * The time step of a right code (now's, moved by how far off the code was), or undefined: a
 * wrong code, or one of a step already used (`lastStep` or earlier).
 */
export async function acceptedStep(secret: string | undefined, code: string, lastStep: number | undefined): Promise<number | undefined> {
  const result = secret && /^[0-9]{6}$/.test(code) ? await verify({ secret, token: code, ...timing }) : { valid: false as const };
  if (!result.valid) return undefined;
  const step = Math.floor(Date.now() / 1000 / timing.period) + ((result as { delta?: number }).delta ?? 0);
  return lastStep !== undefined && step <= lastStep ? undefined : step;
}

/** A code of the secret now (or at `epoch`, in seconds), as the person's application shows it (tests, demo). */
export function currentCode(secret: string, epoch?: number): Promise<string> {
  return generate({ secret, ...(epoch !== undefined ? { epoch } : {}) });
}
