/**
 * The simulator seen as a relying party sees it: real HTTP, the flow followed by hand, tokens
 * checked with jose against the published keys.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSettings } from "@mutualis/service-kit";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INLINE_SOURCES } from "./pages.ts";
import { proconnectSimulator, type ProConnectSimulator } from "./service.ts";
import { proconnectSettings } from "./settings.ts";

const portail = {
  client_id: "portail-mutualis",
  client_secret: "secret-du-portail-0123456789abcdef",
  client_name: "Portail Mutualis",
  redirect_uris: ["http://portail.test/auth/callback"],
  post_logout_redirect_uris: ["http://portail.test/auth/logged-out"],
} as const;
const actes = {
  client_id: "actes",
  client_secret: "secret-des-actes-0123456789abcdef",
  redirect_uris: ["http://actes.test/callback"],
  post_logout_redirect_uris: [],
  signing_alg: "ES256",
} as const;

const settingsFor = (env: Record<string, string> = {}) =>
  loadSettings(proconnectSettings, { HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", LOG_LEVEL: "silent", PROCONNECT_CLIENTS: JSON.stringify([portail, actes]), ...env });

interface Client {
  readonly client_id: string;
  readonly client_secret: string;
  readonly redirect_uris: readonly string[];
  readonly signing_alg?: "RS256" | "ES256";
}

interface Visit {
  status: number;
  url: URL;
  headers: Headers;
  body: string;
  /** Where the simulator sent the browser outside itself (the service's redirect_uri). */
  location?: URL;
}

/** A browser as far as the flow needs: cookies by path, and the simulator's own redirects followed. */
class Browser {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();
  /** Every Set-Cookie line received, attributes included. */
  readonly setCookies: string[] = [];

  constructor(private readonly origin: string) {}

  private cookieHeader(url: URL): string {
    const within = (path: string) => path === "/" || url.pathname === path || url.pathname.startsWith(`${path.replace(/\/$/, "")}/`);
    return [...this.cookies.values()]
      .filter((cookie) => within(cookie.path))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join("; ");
  }

  private remember(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const name = pair.slice(0, pair.indexOf("="));
      const value = pair.slice(pair.indexOf("=") + 1);
      const path = attributes.find((attribute) => attribute.toLowerCase().startsWith("path="))?.slice(5) ?? "/";
      const key = `${name} ${path}`;
      if (value === "" || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  async go(url: string | URL, form?: Record<string, string>): Promise<Visit> {
    let target = new URL(url);
    let body = form ? new URLSearchParams(form) : undefined;
    for (let hop = 0; hop < 10; hop += 1) {
      const response = await fetch(target, { method: body ? "POST" : "GET", body, redirect: "manual", headers: { cookie: this.cookieHeader(target) } });
      this.remember(response.headers);
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        await response.arrayBuffer();
        const next = new URL(location, target);
        if (next.origin !== this.origin) return { status: response.status, url: target, headers: response.headers, body: "", location: next };
        target = next;
        body = undefined;
        continue;
      }
      return { status: response.status, url: target, headers: response.headers, body: await response.text() };
    }
    throw new Error("too many redirects");
  }
}

const random = () => randomBytes(24).toString("base64url"); // 32 characters
const firstFormAction = (html: string) => /<form method="post" action="([^"]+)"/.exec(html)?.[1];

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  end_session_endpoint: string;
  [name: string]: unknown;
}

describe("the ProConnect simulator, as a relying party sees it", () => {
  let simulator: ProConnectSimulator;
  let discovery: Discovery;
  let keys: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    simulator = await proconnectSimulator(settingsFor()).start();
    discovery = (await (await fetch(`${simulator.issuer}/.well-known/openid-configuration`)).json()) as Discovery;
    keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
  });
  afterAll(() => simulator.stop());

  const authorizeUrl = (client: Client, parameters: Record<string, string | undefined> = {}) => {
    const url = new URL(discovery.authorization_endpoint);
    const all = { response_type: "code", client_id: client.client_id, redirect_uri: client.redirect_uris[0], scope: "openid given_name usual_name email uid siret idp_id", acr_values: "eidas1", ...parameters };
    for (const [name, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(name, value);
    return url;
  };

  /** Sends the browser to ProConnect; picks the agent if the login page shows; returns the redirect back. */
  const signIn = async (browser: Browser, client: Client, email: string, parameters: Record<string, string> = {}) => {
    const state = random();
    const nonce = random();
    let visit = await browser.go(authorizeUrl(client, { state, nonce, ...parameters }));
    const loginPageShown = visit.location === undefined;
    if (loginPageShown) {
      expect(visit.status, visit.body).toBe(200);
      visit = await browser.go(new URL(firstFormAction(visit.body)!, visit.url), { email });
    }
    const back = visit.location!;
    expect(`${back.origin}${back.pathname}`).toBe(client.redirect_uris[0]);
    expect(back.searchParams.get("state")).toBe(state);
    return { code: back.searchParams.get("code")!, nonce, loginPageShown };
  };

  const token = (client: Client, code: string, authentication: "post" | "basic" = "post") => {
    const form = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: client.redirect_uris[0]! });
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    if (authentication === "post") {
      form.set("client_id", client.client_id);
      form.set("client_secret", client.client_secret);
    } else {
      headers.authorization = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`;
    }
    return fetch(discovery.token_endpoint, { method: "POST", headers, body: form });
  };

  const verified = async (jwt: string, client: Client): Promise<JWTPayload> =>
    (await jwtVerify(jwt, keys, { issuer: discovery.issuer, audience: client.client_id, algorithms: [client.signing_alg ?? "RS256"] })).payload;

  /** The whole sign-in: code, tokens, id_token and user info verified. */
  const tokensFor = async (browser: Browser, client: Client, email: string) => {
    const { code, nonce } = await signIn(browser, client, email);
    const response = await token(client, code);
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as { access_token: string; id_token: string; expires_in: number; token_type: string };
    const idToken = await verified(tokens.id_token, client);
    expect(idToken.nonce).toBe(nonce);
    return { tokens, idToken };
  };

  it("when a relying party reads the discovery document, then every endpoint is under /api/v2 and only ProConnect's choices are offered", () => {
    expect(discovery).toMatchObject({
      issuer: `${simulator.url}/api/v2`,
      authorization_endpoint: `${simulator.url}/api/v2/authorize`,
      token_endpoint: `${simulator.url}/api/v2/token`,
      userinfo_endpoint: `${simulator.url}/api/v2/userinfo`,
      jwks_uri: `${simulator.url}/api/v2/jwks`,
      end_session_endpoint: `${simulator.url}/api/v2/session/end`,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code"],
      token_endpoint_auth_methods_supported: ["client_secret_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256", "ES256"],
      userinfo_signing_alg_values_supported: ["RS256", "ES256"],
    });
    expect(discovery.scopes_supported).toEqual(expect.arrayContaining(["openid", "given_name", "usual_name", "email", "uid", "siret", "idp_id", "siren", "organizational_unit"]));
    expect(discovery.acr_values_supported).toContain("eidas1");
    expect(discovery).not.toHaveProperty("pushed_authorization_request_endpoint");
  });

  it("when an agent signs in, then the service gets a signed id_token and signed user info with every ProConnect claim", async () => {
    const { tokens, idToken } = await tokensFor(new Browser(simulator.url), portail, "camille.le-goff@ville-rennes.fr");

    expect(tokens).toMatchObject({ token_type: "Bearer", expires_in: 60 });
    expect(decodeProtectedHeader(tokens.id_token).alg).toBe("RS256");
    expect(idToken).toMatchObject({ iss: discovery.issuer, aud: portail.client_id, acr: "eidas1" });
    expect(idToken.sub).toMatch(/^[0-9a-f]{64}$/);
    expect(idToken.exp! - idToken.iat!).toBe(60);

    const response = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/jwt/);
    const userinfo = await verified(await response.text(), portail);
    expect(userinfo).toMatchObject({
      sub: idToken.sub,
      given_name: "Camille",
      usual_name: "Le Goff",
      email: "camille.le-goff@ville-rennes.fr",
      uid: "ville-rennes-0001",
      siret: "21350238800019",
      idp_id: "5f3c1b6e-8d2a-4c7e-9b1f-2a6d4e8c0b13",
    });
    // Only what the scopes asked for.
    expect(userinfo).not.toHaveProperty("siren");
    expect(userinfo).not.toHaveProperty("organizational_unit");
  });

  it("when an agent signs in, then the ProConnect session lasts 12 hours", async () => {
    const browser = new Browser(simulator.url);
    const before = Date.now();
    await signIn(browser, portail, "camille.le-goff@ville-rennes.fr");
    const session = browser.setCookies.find((line) => line.startsWith("_session="));
    const expires = Date.parse(/expires=([^;]+)/i.exec(session ?? "")?.[1] ?? "");
    expect(expires - before).toBeGreaterThan(12 * 3600_000 - 60_000);
    expect(expires - before).toBeLessThanOrEqual(12 * 3600_000 + 1000);
  });

  it("when a relying party reads the JWKS, then it gets public keys only", async () => {
    const { keys: published } = (await (await fetch(discovery.jwks_uri)).json()) as { keys: Record<string, unknown>[] };
    expect(published.map((key) => key.alg)).toEqual(["RS256", "ES256"]);
    expect(published.some((key) => "d" in key)).toBe(false);
  });

  it("when the service asks for the optional scopes and amr, then it gets siren, organizational_unit and a two-factor level", async () => {
    const browser = new Browser(simulator.url);
    const claims = JSON.stringify({ id_token: { amr: { essential: true }, acr: { essential: true, value: "eidas2" } } });
    const { code } = await signIn(browser, portail, "gwenaelle.tanguy@rennesmetropole.fr", { scope: "openid email siret siren organizational_unit", claims });
    const tokens = (await (await token(portail, code)).json()) as { access_token: string; id_token: string };
    expect(await verified(tokens.id_token, portail)).toMatchObject({ acr: "eidas2", amr: ["pwd", "totp", "mfa"] });
    const userinfo = await verified(await (await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })).text(), portail);
    expect(userinfo).toMatchObject({ siret: "24350013900189", siren: "243500139", organizational_unit: "Direction du numérique" });
  });

  it.each([
    ["state is shorter than 32 characters", { state: "a".repeat(31) }, "state must be at least 32 characters long"],
    ["nonce is shorter than 32 characters", { nonce: "n".repeat(31) }, "nonce must be at least 32 characters long"],
    ["nonce is missing", { nonce: undefined }, "nonce is required"],
  ])("when %s, then the service gets invalid_request back on its redirect_uri", async (_case, parameters, description) => {
    const visit = await new Browser(simulator.url).go(authorizeUrl(portail, { state: random(), nonce: random(), ...parameters }));
    expect(`${visit.location?.origin}${visit.location?.pathname}`).toBe(portail.redirect_uris[0]);
    expect(visit.location?.searchParams.get("error")).toBe("invalid_request");
    expect(visit.location?.searchParams.get("error_description")).toBe(description);
    expect(visit.location?.searchParams.has("code")).toBe(false);
  });

  it("when the authorization request carries a parameter ProConnect does not accept, then it answers a 400 page", async () => {
    const visit = await new Browser(simulator.url).go(authorizeUrl(portail, { state: random(), nonce: random(), response_mode: "fragment" }));
    expect(visit.status).toBe(400);
    expect(visit.body).toContain("paramètre non accepté par ProConnect : response_mode");
  });

  it("when the service authenticates with client_secret_basic, then the token endpoint refuses it and the code stays unused", async () => {
    const { code } = await signIn(new Browser(simulator.url), portail, "yann.morvan@ville-rennes.fr");
    const refused = await token(portail, code, "basic");
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: "invalid_client" });
    expect((await token(portail, code)).status).toBe(200);
  });

  it("when a code is used twice, then the second exchange is refused", async () => {
    const { code } = await signIn(new Browser(simulator.url), portail, "yann.morvan@ville-rennes.fr");
    expect((await token(portail, code)).status).toBe(200);
    const again = await token(portail, code);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("when the same agent signs in to two services, then each gets its own sub, the same each time, and the second sign-in needs no login", async () => {
    const browser = new Browser(simulator.url);
    const first = await tokensFor(browser, portail, "camille.le-goff@ville-rennes.fr");
    const { code, loginPageShown } = await signIn(browser, actes, "unused@example.org");
    expect(loginPageShown).toBe(false);
    const tokens = (await (await token(actes, code)).json()) as { id_token: string };
    expect(decodeProtectedHeader(tokens.id_token).alg).toBe("ES256");
    const second = await verified(tokens.id_token, actes);

    expect(second.sub).toMatch(/^[0-9a-f]{64}$/);
    expect(second.sub).not.toBe(first.idToken.sub);
    const again = await tokensFor(new Browser(simulator.url), portail, "camille.le-goff@ville-rennes.fr");
    expect(again.idToken.sub).toBe(first.idToken.sub);
  });

  it("when the service logs the agent out, then the browser comes back to post_logout_redirect_uri with the state, and the next sign-in asks again", async () => {
    const browser = new Browser(simulator.url);
    const { tokens } = await tokensFor(browser, portail, "camille.le-goff@ville-rennes.fr");
    const state = random();
    const logout = new URL(discovery.end_session_endpoint);
    logout.search = new URLSearchParams({ id_token_hint: tokens.id_token, state, post_logout_redirect_uri: portail.post_logout_redirect_uris[0] }).toString();

    const page = await browser.go(logout);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain(INLINE_SOURCES.script);
    const form = /<form id="op.logoutForm" method="post" action="([^"]+)"><input type="hidden" name="xsrf" value="([^"]+)"\/>/.exec(page.body);
    expect(form).not.toBeNull();
    // What the page's script does: press "Se déconnecter".
    const back = await browser.go(new URL(form![1]!, page.url), { xsrf: form![2]!, logout: "yes" });

    expect(`${back.location?.origin}${back.location?.pathname}`).toBe(portail.post_logout_redirect_uris[0]);
    expect(back.location?.searchParams.get("state")).toBe(state);
    expect((await signIn(browser, portail, "camille.le-goff@ville-rennes.fr")).loginPageShown).toBe(true);
  });

  it("when the logout request lacks its state, then ProConnect's rule refuses it with a 400 page", async () => {
    const logout = new URL(discovery.end_session_endpoint);
    logout.search = new URLSearchParams({ id_token_hint: "x", post_logout_redirect_uri: portail.post_logout_redirect_uris[0] }).toString();
    const visit = await new Browser(simulator.url).go(logout);
    expect(visit.status).toBe(400);
    expect(visit.body).toContain("paramètre obligatoire absent : state");
  });

  it("when the login page shows, then it is in French, names the service, offers one button per agent, and lets forms go back to the services", async () => {
    const visit = await new Browser(simulator.url).go(authorizeUrl(portail, { state: random(), nonce: random(), login_hint: "yann.morvan@ville-rennes.fr" }));
    expect(visit.status).toBe(200);
    expect(visit.body).toContain('<html lang="fr">');
    expect(visit.body).toContain("<h1>Se connecter à Portail Mutualis avec ProConnect</h1>");
    expect(visit.body).toContain("<legend>Agents de test</legend>");
    expect(visit.body.match(/<button type="submit" name="email"/g)).toHaveLength(3);
    expect(visit.body).toContain('value="yann.morvan@ville-rennes.fr" autofocus');
    expect(visit.body).toContain("Rennes Métropole, Direction du numérique — SIRET 243 500 139 00189");
    expect(visit.headers.get("content-security-policy")).toContain("form-action 'self' http://portail.test http://actes.test");
  });

  it("when the tester cancels on the login page, then the service gets access_denied", async () => {
    const browser = new Browser(simulator.url);
    const page = await browser.go(authorizeUrl(portail, { state: random(), nonce: random() }));
    const abort = /<form method="post" action="([^"]+\/abort)"/.exec(page.body)![1]!;
    const back = await browser.go(new URL(abort, page.url), {});
    expect(back.location?.searchParams.get("error")).toBe("access_denied");
  });

  it("when the login form is posted without its interaction cookie, then a French page says the request expired", async () => {
    const page = await new Browser(simulator.url).go(authorizeUrl(portail, { state: random(), nonce: random() }));
    const visit = await new Browser(simulator.url).go(new URL(firstFormAction(page.body)!, page.url), { email: "camille.le-goff@ville-rennes.fr" });
    expect(visit.status).toBe(400);
    expect(visit.body).toContain("Demande de connexion expirée");
  });
});

const openssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!openssl)("the ProConnect simulator with TLS", () => {
  it("when given a certificate and its key, then it listens with https and its issuer says so", async () => {
    const directory = mkdtempSync(join(tmpdir(), "proconnect-tls-"));
    const [cert, key] = [join(directory, "tls.crt"), join(directory, "tls.key")];
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
    const simulator = await proconnectSimulator(settingsFor({ PROCONNECT_TLS_CERT_FILE: cert, PROCONNECT_TLS_KEY_FILE: key })).start();
    try {
      const ca = readFileSync(cert);
      const body = await new Promise<string>((resolve, reject) => {
        get(`${simulator.issuer}/.well-known/openid-configuration`, { ca }, (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => (text += chunk.toString()));
          response.on("end", () => resolve(text));
        }).on("error", reject);
      });
      const discovery = JSON.parse(body) as Discovery;
      expect(discovery.issuer).toBe(`https://127.0.0.1:${simulator.port}/api/v2`);
      expect(discovery.token_endpoint).toBe(`https://127.0.0.1:${simulator.port}/api/v2/token`);
    } finally {
      await simulator.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
