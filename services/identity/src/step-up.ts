import { randomUUID } from "node:crypto";
import { allow, confirmationAudience, confirmationType, Conflict, Forbidden, tenantEndpoint, TooManyRequests, type Database, type EndpointSpec, type UserCaller } from "@mutualis/service-kit";
import { importJWK, SignJWT } from "jose";
import { generateSecret, generateURI } from "otplib";
import { z } from "zod";
import type { AccountRepository } from "./accounts.ts";
import type { IdentityKeys } from "./keys.ts";
import { acceptedStep, maximumTries } from "./second-factor.ts";

/** A secret shown to a person enrolling their application outside a sign-in, until their first code. */
interface Enrolment {
  _id: string;
  secret: string;
  createdAt: Date;
}

/** Wrong codes given for confirmations, per person, over five minutes. */
interface Attempts {
  _id: string;
  tries: number;
  since: Date;
}

/** How long a confirmation is good for: the time to sign once. */
export const confirmationSeconds = 120;
const window = 5 * 60_000;

const person = (caller: UserCaller | { kind: "client" }): UserCaller => {
  if (caller.kind !== "user") throw new Conflict("a confirmation is a person's");
  return caller;
};

/**
 * Step-up for an operation that needs the person's second factor now (signing in the
 * parapheur): they give a code of their authenticator application and get a confirmation — a
 * token signed with the identity's keys, for them, for that one purpose, for two minutes — which
 * the service doing the operation verifies itself. A person without an application enrols one
 * here first; five wrong codes in five minutes stop them for the rest of the five.
 */
export function stepUpEndpoints(database: Database, accounts: AccountRepository, keys: IdentityKeys, issuer: string): EndpointSpec[] {
  const enrolments = database.collection<Enrolment>("second_factor_enrolments");
  const attempts = database.collection<Attempts>("second_factor_attempts");
  const signingKey = keys.jwks.keys[0]!;
  const signWith = importJWK(signingKey, signingKey.alg ?? "ES256");
  return [
    tenantEndpoint({
      name: "second-factor-status",
      answer: z.object({ enrolled: z.boolean() }).strict(),
      subject: "tenant.*.identity.second-factor.status",
      schema: z.object({}).strict().default({}),
      callers: allow.members(),
      handle: async (_request, { caller }) => {
        const account = await accounts.require(person(caller).subject);
        return { enrolled: Boolean(account.totp) };
      },
    }),
    tenantEndpoint({
      name: "second-factor-enrol",
      answer: z.object({ secret: z.string().regex(/^[A-Z2-7]+=*$/), uri: z.string().startsWith("otpauth://totp/") }).strict(),
      subject: "tenant.*.identity.second-factor.enrol",
      schema: z.object({}).strict().default({}),
      callers: allow.members(),
      handle: async (_request, { caller }) => {
        const account = await accounts.require(person(caller).subject);
        if (account.totp) throw new Conflict("an authenticator application is already enrolled");
        const secret = generateSecret();
        await enrolments.replaceOne({ _id: account._id }, { secret, createdAt: new Date() }, { upsert: true });
        return { secret, uri: generateURI({ issuer: "Mutualis", label: account.email, secret }) };
      },
    }),
    tenantEndpoint({
      name: "second-factor-confirm",
      // A compact JWS (its type is confirmation+jwt, which zod's jwt() does not take).
      answer: z.object({ confirmation: z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/), expiresAt: z.iso.datetime() }).strict(),
      subject: "tenant.*.identity.second-factor.confirm",
      schema: z.object({ code: z.string().regex(/^[0-9]{6}$/, "must be the six digits the application shows"), purpose: z.string().regex(/^[a-z][a-z0-9.:_-]{0,199}$/) }).strict(),
      callers: allow.members(),
      handle: async ({ code, purpose }, { caller }) => {
        const account = await accounts.require(person(caller).subject);
        const now = new Date();
        const tried = await attempts.findOne({ _id: account._id });
        if (tried && now.getTime() - tried.since.getTime() < window && tried.tries >= maximumTries) {
          throw new TooManyRequests("too many wrong codes: wait five minutes", Math.ceil((tried.since.getTime() + window - now.getTime()) / 1000));
        }
        const enrolling = account.totp ? undefined : (await enrolments.findOne({ _id: account._id }))?.secret;
        if (!account.totp && !enrolling) throw new Conflict("no authenticator application is enrolled: enrol one first");
        const secret = account.totp?.secret ?? enrolling!;
        const step = await acceptedStep(secret, code, account.totp?.lastStep);
        if (step === undefined) {
          const fresh = !tried || now.getTime() - tried.since.getTime() >= window;
          await attempts.updateOne({ _id: account._id }, fresh ? { $set: { tries: 1, since: now } } : { $inc: { tries: 1 } }, { upsert: true });
          throw new Forbidden("the code is wrong, or was already used");
        }
        await accounts.setTotp(account._id, { secret, lastStep: step, ...(enrolling ? { enrolledAt: now } : {}) });
        await Promise.all([enrolments.deleteOne({ _id: account._id }), attempts.deleteOne({ _id: account._id })]);
        const confirmation = await new SignJWT({ purpose })
          .setProtectedHeader({ alg: signingKey.alg ?? "ES256", kid: signingKey.kid, typ: confirmationType })
          .setIssuer(issuer)
          .setAudience(confirmationAudience)
          .setSubject(account._id)
          .setJti(randomUUID())
          .setIssuedAt()
          .setExpirationTime(`${confirmationSeconds}s`)
          .sign(await signWith);
        return { confirmation, expiresAt: new Date(now.getTime() + confirmationSeconds * 1000).toISOString() };
      },
    }),
  ];
}
