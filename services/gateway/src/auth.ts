import { readFileSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { Unauthorized } from "@mutualis/service-kit";
import { z } from "zod";

/** Who calls, as their token says. */
export interface Caller {
  readonly user: string;
  readonly collectivity: string;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
}

const claims = z.object({
  sub: z.string().min(1),
  collectivity: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  roles: z.array(z.string()).default([]),
  groups: z.array(z.string()).default([]),
});

export interface AuthOptions {
  readonly jwksFile?: string;
  readonly jwksUrl?: string;
  readonly issuer: string;
  readonly audience: string;
}

/** Verifies bearer JWTs against a JWKS (a file locally, the identity provider's URL in production). */
export class Authenticator {
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly options: AuthOptions) {
    if (options.jwksUrl) this.keys = createRemoteJWKSet(new URL(options.jwksUrl));
    else if (options.jwksFile) this.keys = createLocalJWKSet(JSON.parse(readFileSync(options.jwksFile, "utf8")));
    else throw new Error("a JWKS file or URL is required");
  }

  async verify(authorization: string | undefined): Promise<Caller> {
    const token = /^Bearer (.+)$/i.exec(authorization ?? "")?.[1];
    if (!token) throw new Unauthorized("a bearer token is required");
    try {
      const { payload } = await jwtVerify(token, this.keys, { issuer: this.options.issuer, audience: this.options.audience });
      const parsed = claims.safeParse(payload);
      if (!parsed.success) throw new Unauthorized("the token does not name a collectivity and a subject");
      return { user: parsed.data.sub, collectivity: parsed.data.collectivity, roles: parsed.data.roles, groups: parsed.data.groups };
    } catch (error) {
      if (error instanceof Unauthorized) throw error;
      if (error instanceof errors.JWTExpired) throw new Unauthorized("the token has expired");
      throw new Unauthorized("the token is not valid");
    }
  }
}
