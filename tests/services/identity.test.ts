import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadKeys, rotateKeys, writeKeysFile } from "@mutualis/identity";
import { CallerVerifier, type UserCaller } from "@mutualis/service-kit";
import { agent, bearer, craftToken, startTestIdentity, testPassword, type TestIdentity } from "../support/identity.ts";
import type { RunningOperator } from "@mutualis/operator";
import { startTestOperator } from "../support/operator.ts";
import { testPlatform } from "../support/platform.ts";
import { platformServicesCreds } from "../support/services.ts";

const platform = testPlatform();
let identity: TestIdentity;
let nc: NatsConnection;
let operator: RunningOperator;

const people = [
  agent("alice.martin@t-id-a.test", { "t-id-a": ["agent", "administrateur"] }),
  agent("bruno.le-gall@t-id-a.test", { "t-id-a": ["agent"] }),
  agent("chloe.tanguy@t-id-b.test", { "t-id-b": ["administrateur"] }),
  agent("denise.morvan@t-id-a.test", { "t-id-a": ["agent"], "t-id-b": ["signataire"] }),
];

async function members(token: string | undefined, collectivity: string, operation: string, body: unknown = {}) {
  const reply = await nc.request(`tenant.${collectivity}.identity.members.${operation}`, JSON.stringify(body), { timeout: 10_000, ...(token ? bearer(token) : {}) });
  const code = Number(reply.headers?.get("Nats-Service-Error-Code") ?? 200);
  return { code, body: reply.data.length > 0 ? reply.json<Record<string, unknown>>() : null };
}

describe("the identity service: the platform's OpenID Connect provider", () => {
  beforeAll(async () => {
    // The operator makes the platform services' NATS account, which the identity connects as.
    operator = await startTestOperator();
    const creds = await platformServicesCreds();
    identity = await startTestIdentity(creds, "identity_tests", people, { IDENTITY_LOCKOUT_ATTEMPTS: "3" });
    nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(readFileSync(creds.client)) });
  });

  afterAll(async () => {
    await nc?.close();
    await identity?.stop();
    await operator?.stop();
  });

  const verifier = () => new CallerVerifier({ issuer: identity.issuer, audience: "mutualis-api", caFile: identity.caFile });

  it("when the discovery document is read, then it names the issuer, its keys and the flows it offers", async () => {
    const discovery = (await (await identity.fetch(`${identity.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(identity.issuer);
    expect(discovery.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"]));
    expect(discovery.code_challenge_methods_supported).toEqual(["S256"]);
    expect(discovery.end_session_endpoint).toBe(`${identity.issuer}/session/end`);
    const jwks = (await (await identity.fetch(String(discovery.jwks_uri))).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    // The public halves only.
    for (const key of jwks.keys) expect(key.d).toBeUndefined();
  });

  it("when an agent signs in with their password, then their access token names them and their roles in each collectivity", async () => {
    const caller = (await verifier().verify(`Bearer ${await identity.token("denise.morvan@t-id-a.test")}`)) as UserCaller;
    expect(caller).toMatchObject({ kind: "user", email: "denise.morvan@t-id-a.test", memberships: { "t-id-a": ["agent"], "t-id-b": ["signataire"] } });
  });

  it("when the password is wrong or the address unknown, then the answer is the same, and enough failures lock the address either way", async () => {
    const refusal = async (email: string, password: string) => identity.token(email, password).then(() => "signed in", (error: Error) => error.message);
    const wrong = await refusal("bruno.le-gall@t-id-a.test", "not-the-password");
    const unknown = await refusal("nobody@t-id-a.test", "not-the-password");
    expect(wrong).toBe(unknown);
    expect(wrong).toContain("Adresse électronique ou mot de passe incorrect");
    for (let i = 0; i < 2; i++) {
      await refusal("bruno.le-gall@t-id-a.test", "still-wrong");
      await refusal("nobody@t-id-a.test", "still-wrong");
    }
    // Locked: even the right password is refused now, with the same words as for an unknown address.
    const locked = await refusal("bruno.le-gall@t-id-a.test", testPassword);
    expect(locked).toContain("Trop de tentatives");
    expect(await refusal("nobody@t-id-a.test", "still-wrong")).toBe(locked);
  });

  it("when the operator asks with its client credentials, then its token names the client and no person", async () => {
    expect(await verifier().verify(`Bearer ${await identity.operatorToken()}`)).toEqual({ kind: "client", client: "mutualis-operator" });
  });

  it("when a token is expired, unsigned, signed by another key, without expiry, for another audience or not an access token, then it is refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: identity.issuer, aud: "mutualis-api", sub: "someone", email: "alice.martin@t-id-a.test", memberships: { "t-id-a": ["administrateur"] }, iat: now };
    const refused = async (token: string) => verifier().verify(`Bearer ${token}`).then(() => "accepted", (error: Error) => error.message);
    // The identity's own key, so only the claim in question is wrong.
    expect(await refused(await craftToken(identity.keysFile, { ...claims, exp: now + 600 }))).toBe("accepted");
    expect(await refused(await craftToken(identity.keysFile, { ...claims, exp: now - 60 }))).toBe("the token has expired");
    expect(await refused(await craftToken(identity.keysFile, claims))).toBe("the token is not valid");
    expect(await refused(await craftToken(identity.keysFile, { ...claims, aud: "another-api", exp: now + 600 }))).toBe("the token is not valid");
    expect(await refused(await craftToken(identity.keysFile, { ...claims, exp: now + 600 }, { typ: "JWT" }))).toBe("the token is not valid");
    const payload = Buffer.from(JSON.stringify({ ...claims, exp: now + 600 })).toString("base64url");
    expect(await refused(`${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${payload}.`)).toBe("the token is not valid");
    const foreign = { jwks: { keys: (await rotateKeys(undefined)).jwks.keys.map((k) => ({ ...k, kid: loadKeys(identity.keysFile).jwks.keys[0]!.kid })) } };
    const foreignFile = `${identity.keysFile}.foreign`;
    writeKeysFile(foreignFile, { ...foreign, cookieKeys: ["x".repeat(40)] });
    expect(await refused(await craftToken(foreignFile, { ...claims, exp: now + 600 }))).toBe("the token is not valid");
  });

  it("when the signing keys are rotated, then tokens issued before still verify and new ones are signed with the new key", async () => {
    const before = await identity.token("alice.martin@t-id-a.test");
    const rotated = await rotateKeys(loadKeys(identity.keysFile));
    writeKeysFile(identity.keysFile, rotated);
    identity = await identity.restart();
    const after = await identity.token("alice.martin@t-id-a.test");
    const kid = (token: string) => (JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
    expect(kid(after)).toBe(rotated.jwks.keys[0]!.kid);
    expect(kid(before)).not.toBe(kid(after));
    const fresh = verifier();
    await expect(fresh.verify(`Bearer ${before}`)).resolves.toMatchObject({ email: "alice.martin@t-id-a.test" });
    await expect(fresh.verify(`Bearer ${after}`)).resolves.toMatchObject({ email: "alice.martin@t-id-a.test" });
  });

  it("when an administrator manages the members, then they invite, grant, deactivate and revoke in their collectivity only, and each change is audited", async () => {
    const admin = await identity.token("alice.martin@t-id-a.test");
    const invited = await members(admin, "t-id-a", "invite", { email: "erwan.guillou@t-id-a.test", givenName: "Erwan", usualName: "Guillou", roles: ["agent"] });
    expect(invited).toMatchObject({ code: 200, body: { email: "erwan.guillou@t-id-a.test", roles: ["agent"], active: true } });
    const subject = String(invited.body!.subject);
    expect((await members(admin, "t-id-a", "grant", { subject, roles: ["agent", "signataire"] })).body).toMatchObject({ roles: ["agent", "signataire"] });
    expect((await members(admin, "t-id-a", "deactivate", { subject })).body).toMatchObject({ active: false });
    expect((await members(admin, "t-id-a", "revoke", { subject })).body).toEqual({ revoked: "erwan.guillou@t-id-a.test" });
    const trail = (await members(admin, "t-id-a", "audit")).body as unknown as { action: string; actor: string; target: string }[];
    expect(trail.map((e) => e.action)).toEqual(["revoke", "deactivate", "grant", "invite"]);
    expect(trail.every((e) => e.actor === "alice.martin@t-id-a.test" && e.target === "erwan.guillou@t-id-a.test")).toBe(true);
  });

  it("when someone who is not an administrator there manages members, then they are refused, and a collectivity is never left without an administrator", async () => {
    const agentToken = await identity.token("denise.morvan@t-id-a.test");
    expect((await members(agentToken, "t-id-a", "list")).code).toBe(403);
    // An administrator of another collectivity has nothing here either.
    const otherAdmin = await identity.token("chloe.tanguy@t-id-b.test");
    expect((await members(otherAdmin, "t-id-a", "list")).code).toBe(403);
    expect((await members(undefined, "t-id-a", "list")).code).toBe(401);
    // chloe is t-id-b's only administrator.
    const chloe = ((await members(otherAdmin, "t-id-b", "list")).body as unknown as { subject: string; email: string }[]).find((m) => m.email === "chloe.tanguy@t-id-b.test")!;
    expect((await members(otherAdmin, "t-id-b", "grant", { subject: chloe.subject, roles: ["agent"] })).code).toBe(409);
    // An administrator cannot reach another collectivity's member through their own.
    const alice = await identity.token("alice.martin@t-id-a.test");
    expect((await members(alice, "t-id-a", "revoke", { subject: chloe.subject })).code).toBe(404);
  });

  it("when the sign-in page is served, then it is in French, labelled, and its form posts to the identity itself", async () => {
    const authorize = new URL(`${identity.issuer}/auth`);
    for (const [k, v] of Object.entries({ client_id: "mutualis-cli", redirect_uri: "http://127.0.0.1/callback", response_type: "code", scope: "openid", code_challenge: "x".repeat(43), code_challenge_method: "S256" })) authorize.searchParams.set(k, v);
    const first = await identity.fetch(authorize.href, { redirect: "manual" });
    const cookie = first.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const page = await identity.fetch(new URL(first.headers.get("location")!, identity.issuer).href, { headers: { cookie } });
    const html = await page.text();
    expect(html).toContain('<html lang="fr">');
    expect(html).toContain('<label for="email">Adresse électronique</label>');
    expect(html).toContain('<label for="password">Mot de passe</label>');
    expect(page.headers.get("content-security-policy")).toContain("form-action 'self'");
  });
});
