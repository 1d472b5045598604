import { readFileSync } from "node:fs";
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { Agent, fetch as undiciFetch } from "undici";
import { z } from "zod";
import { ConfigError, Forbidden, Unauthorized, Unavailable } from "./errors.ts";

/** The roles a person may hold in a collectivity (iParapheur's and @ctes's users, and its administrators). */
export const roles = ["agent", "signataire", "secretaire", "elu", "administrateur"] as const;
export type Role = (typeof roles)[number];

/** A person signed in through the identity service: an agent of one or more collectivities, or a company user. */
export interface UserCaller {
  readonly kind: "user";
  /** The identity service's stable identifier of the person. */
  readonly subject: string;
  readonly email: string;
  /** Per collectivity the person belongs to, their roles there (none until an administrator grants one). */
  readonly memberships: Readonly<Record<string, readonly Role[]>>;
  /** The company the person acts for, for a company user. */
  readonly company?: { readonly siret: string; readonly name: string };
}

/** Software acting for the platform itself (the operator), with a client-credentials token. */
export interface ClientCaller {
  readonly kind: "client";
  readonly client: string;
}

export type Caller = UserCaller | ClientCaller;

const collectivityName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The claims of the platform's access tokens that say who calls (the identity service writes them). */
const accessTokenClaims = z.object({
  sub: z.string().min(1),
  client_id: z.string().min(1).optional(),
  email: z.string().optional(),
  memberships: z.record(z.string().regex(collectivityName), z.array(z.enum(roles))).optional(),
  company: z.object({ siret: z.string().regex(/^[0-9]{14}$/), name: z.string() }).optional(),
});

function callerOf(payload: unknown): Caller {
  const parsed = accessTokenClaims.safeParse(payload);
  if (!parsed.success) throw new Unauthorized("the token does not say who calls");
  const claims = parsed.data;
  // A client-credentials token names its client as the subject and carries no person.
  if (!claims.email && claims.client_id === claims.sub) return { kind: "client", client: claims.sub };
  if (!claims.email) throw new Unauthorized("the token does not say who calls");
  return { kind: "user", subject: claims.sub, email: claims.email, memberships: claims.memberships ?? {}, ...(claims.company ? { company: claims.company } : {}) };
}

/**
 * A fetch that trusts a CA of the platform's own (a PEM file or its text) besides the public ones:
 * for the issuer's and ProConnect's certificates on the local platform. Without a CA, fetch itself.
 */
export function trustingFetch(options: { readonly caFile?: string; readonly ca?: string }): typeof fetch {
  if (!options.caFile && !options.ca) return fetch;
  let ca = options.ca ?? "";
  if (options.caFile) {
    try {
      ca = readFileSync(options.caFile, "utf8");
    } catch {
      throw new ConfigError(`the CA file cannot be read: ${options.caFile}`);
    }
  }
  const dispatcher = new Agent({ connect: { ca } });
  return ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
}

export interface VerifierOptions {
  /** The platform's issuer, byte for byte as its tokens and discovery document say it. */
  readonly issuer: string;
  /** The audience the platform's access tokens are for. */
  readonly audience: string;
  /** A PEM file of the CA that signed the issuer's certificate, when it is not a public one. */
  readonly caFile?: string;
  /** The same CA's PEM text, instead of a file. */
  readonly ca?: string;
}

/**
 * Verifies the platform's access tokens: signed by a key of the issuer's JWKS (found from its
 * discovery document, cached, fetched again on an unknown key id, which is how a rotation is
 * seen), of type `at+jwt`, for the platform's audience, with an expiry.
 */
export class CallerVerifier {
  private keys: Promise<JWTVerifyGetKey> | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: VerifierOptions) {
    this.fetchImpl = trustingFetch(options);
  }

  /** The fetch the verifier uses, trusting the issuer's CA: for clients of the issuer in the same process. */
  get fetch(): typeof fetch {
    return this.fetchImpl;
  }

  private async discoverKeys(): Promise<JWTVerifyGetKey> {
    const url = `${this.options.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    let jwksUri: string;
    try {
      const response = await this.fetchImpl(url, { signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const discovery = (await response.json()) as { issuer?: string; jwks_uri?: string };
      if (discovery.issuer !== this.options.issuer) throw new Error(`the discovery document names issuer ${String(discovery.issuer)}`);
      if (!discovery.jwks_uri) throw new Error("the discovery document has no jwks_uri");
      jwksUri = discovery.jwks_uri;
    } catch (error) {
      throw new Unavailable("the identity service cannot be reached to verify the caller's token", { cause: error });
    }
    return createRemoteJWKSet(new URL(jwksUri), { [customFetch]: this.fetchImpl, cooldownDuration: 5_000, cacheMaxAge: 10 * 60_000 });
  }

  private getKeys(): Promise<JWTVerifyGetKey> {
    this.keys ??= this.discoverKeys().catch((error: unknown) => {
      this.keys = undefined;
      throw error;
    });
    return this.keys;
  }

  /**
   * A confirmation of the caller's second factor for `purpose` (signing one folder, say): signed
   * by the issuer, for this person, this purpose, not expired. Its id is returned: the caller of
   * this keeps it, so that one confirmation serves once.
   */
  async verifyConfirmation(confirmation: string, caller: Caller, purpose: string): Promise<{ id: string }> {
    if (caller.kind !== "user") throw new Forbidden("a second factor is a person's");
    const keys = await this.getKeys();
    let payload: { sub?: string; purpose?: unknown; jti?: string };
    try {
      ({ payload } = await jwtVerify(confirmation, keys, {
        issuer: this.options.issuer,
        audience: confirmationAudience,
        typ: confirmationType,
        requiredClaims: ["exp", "sub", "jti"],
        algorithms: ["ES256", "RS256", "PS256", "EdDSA"],
        clockTolerance: 5,
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new Forbidden("the second factor's confirmation has expired: confirm again");
      if (error instanceof errors.JWKSTimeout) throw new Unavailable("the identity service's keys cannot be read", { cause: error });
      throw new Forbidden("the second factor's confirmation is not valid");
    }
    if (payload.sub !== caller.subject || payload.purpose !== purpose) throw new Forbidden("the second factor's confirmation is for another person or another operation");
    return { id: payload.jti! };
  }

  /** The caller a bearer token (the `Authorization` header's value) names, or Unauthorized. */
  async verify(authorization: string | undefined): Promise<Caller> {
    const token = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/i.exec(authorization ?? "")?.[1];
    if (!token) throw new Unauthorized("a bearer token is required");
    const keys = await this.getKeys();
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: "at+jwt",
        requiredClaims: ["exp", "sub"],
        algorithms: ["ES256", "RS256", "PS256", "EdDSA"],
        clockTolerance: 5,
      });
      return callerOf(payload);
    } catch (error) {
      if (error instanceof Unauthorized) throw error;
      if (error instanceof errors.JWTExpired) throw new Unauthorized("the token has expired");
      if (error instanceof errors.JWKSTimeout) throw new Unavailable("the identity service's keys cannot be read", { cause: error });
      throw new Unauthorized("the token is not valid");
    }
  }
}

/** The audience and type of a second factor's confirmation, which the identity service signs for one purpose. */
export const confirmationAudience = "mutualis-confirmation";
export const confirmationType = "confirmation+jwt";

/** The roles a caller holds in a collectivity: none for software, or for a person who is not a member. */
export function rolesIn(caller: Caller, collectivity: string): readonly Role[] {
  return caller.kind === "user" ? (caller.memberships[collectivity] ?? []) : [];
}

export function isAdministrator(caller: Caller, collectivity: string): boolean {
  return rolesIn(caller, collectivity).includes("administrateur");
}

/**
 * Who may call an endpoint. Every endpoint says it; anything it does not allow is refused
 * before its handler runs.
 */
export type CallerRule =
  /** A member of the request's collectivity holding one of these roles. */
  | { readonly kind: "roles"; readonly roles: readonly Role[] }
  /** The platform's own software, named by its client id (the operator). */
  | { readonly kind: "client"; readonly clients: readonly string[] }
  /**
   * The platform's own subjects (`platform.…`, a connector's), outside `tenant.…`: who may
   * publish there is decided by NATS's permissions, not by a token.
   */
  | { readonly kind: "platform" }
  /** Several rules: any one suffices. */
  | { readonly kind: "any"; readonly rules: readonly CallerRule[] };

export const allow = {
  roles: (...allowed: Role[]): CallerRule => ({ kind: "roles", roles: allowed }),
  /** Any role at all in the collectivity: a member with no role yet is still refused. */
  members: (): CallerRule => ({ kind: "roles", roles }),
  clients: (...clients: string[]): CallerRule => ({ kind: "client", clients }),
  platform: (): CallerRule => ({ kind: "platform" }),
  any: (...rules: CallerRule[]): CallerRule => ({ kind: "any", rules }),
};

/** Whether a rule needs a token at all (platform subjects do not carry one). */
export function needsToken(rule: CallerRule): boolean {
  if (rule.kind === "platform") return false;
  if (rule.kind === "any") return rule.rules.some(needsToken);
  return true;
}

/**
 * Whether the rule lets this caller make a request for this collectivity (undefined on a
 * platform subject). A pure decision: the caller has been verified before.
 */
export function permits(rule: CallerRule, caller: Caller | undefined, collectivity: string | undefined, platformSubject: boolean): boolean {
  switch (rule.kind) {
    case "platform":
      return platformSubject;
    case "client":
      return caller?.kind === "client" && rule.clients.includes(caller.client);
    case "roles":
      return caller !== undefined && collectivity !== undefined && rolesIn(caller, collectivity).some((role) => rule.roles.includes(role));
    case "any":
      return rule.rules.some((inner) => permits(inner, caller, collectivity, platformSubject));
  }
}

/** Refuses, with a message that says what is needed, never whether an object exists. */
export function refusal(rule: CallerRule, collectivity: string | undefined): Forbidden {
  const describe = (r: CallerRule): string =>
    r.kind === "roles" ? `a role among ${r.roles.join(", ")}` : r.kind === "client" ? `the platform's ${r.clients.join(", ")}` : r.kind === "platform" ? "the platform" : r.rules.map(describe).join(" or ");
  return new Forbidden(`this operation needs ${describe(rule)}${collectivity ? ` in collectivity ${collectivity}` : ""}`);
}
