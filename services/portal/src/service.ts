import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import express, { type Request, type Response } from "express";
import * as oidc from "openid-client";
import { ConfigError, trustingFetch, Unauthorized, type CallerVerifier, type ServiceDefinition, type UserCaller } from "@mutualis/service-kit";
import { errorPage, homePage, membersPage, signedOutPage, type CollectivityService, type MemberRow } from "./pages.ts";
import { parapheurRoutes } from "./parapheur.ts";
import type { PortalSettings } from "./settings.ts";

/** A person's session: their tokens stay on the server; the browser holds a random key to it. */
interface Session {
  _id: string;
  accessToken: string;
  idToken?: string;
  csrf: string;
  createdAt: Date;
}

/** A sign-in on its way through the identity service. */
interface Pending {
  _id: string;
  verifier: string;
  nonce: string;
  createdAt: Date;
}

const cookieName = "mutualis_portail";
const digest = (value: string) => createHash("sha256").update(value).digest("hex");

function cookieOf(req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === cookieName) return value.join("=");
  }
  return undefined;
}

/**
 * The portal: people sign in with the identity service (authorization code with PKCE, a
 * confidential client), see their collectivities and roles, or their company, and the
 * collectivities' administrators manage their members, through the gateway with the person's own
 * token. Server-rendered, in French.
 */
export function portalService(): ServiceDefinition<PortalSettings> {
  return {
    description: "The portal of agents and company users",
    routes(app, { settings, database, log, callers }) {
      if (!callers || !settings.IDENTITY_ISSUER) throw new ConfigError("invalid settings: IDENTITY_ISSUER is required: the portal signs people in with the identity service");
      const issuer = settings.IDENTITY_ISSUER;
      const sessions = database.collection<Session>("sessions");
      const pending = database.collection<Pending>("sign_ins");
      const request = trustingFetch({ caFile: settings.IDENTITY_CA_FILE, ca: settings.IDENTITY_CA });
      let configuration: Promise<oidc.Configuration> | undefined;
      const config = () =>
        (configuration ??= (async () => {
          let secret: string;
          try {
            secret = readFileSync(settings.PORTAL_CLIENT_SECRET_FILE, "utf8").trim();
          } catch {
            throw new ConfigError("invalid settings: PORTAL_CLIENT_SECRET_FILE cannot be read");
          }
          const found = await oidc.discovery(new URL(issuer), settings.PORTAL_CLIENT_ID, {}, oidc.ClientSecretBasic(secret), { [oidc.customFetch]: request as oidc.CustomFetch });
          found[oidc.customFetch] = request as oidc.CustomFetch;
          return found;
        })().catch((error: unknown) => {
          configuration = undefined;
          throw error;
        }));
      const secure = settings.PORTAL_PUBLIC_URL.startsWith("https:");
      const html = (res: Response, status: number, body: string) => res.status(status).type("html").set("cache-control", "no-store").send(body);
      const form = express.urlencoded({ extended: true, limit: "16kb" });

      // Signing out posts to the portal, which sends the browser on to the identity service.
      app.use((_req, res, next) => {
        res.setHeader("Content-Security-Policy", `default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self' ${new URL(issuer).origin}; frame-ancestors 'none'; base-uri 'none'`);
        next();
      });

      /** The signed-in person and their session, or undefined (an expired token counts as signed out). */
      const current = async (req: Request): Promise<{ session: Session; caller: UserCaller } | undefined> => {
        const key = cookieOf(req);
        if (!key) return undefined;
        const session = await sessions.findOne({ _id: digest(key) });
        if (!session || Date.now() - session.createdAt.getTime() > settings.PORTAL_SESSION_SECONDS * 1000) return undefined;
        try {
          const caller = await (callers as CallerVerifier).verify(`Bearer ${session.accessToken}`);
          return caller.kind === "user" ? { session, caller } : undefined;
        } catch (error) {
          if (error instanceof Unauthorized) return undefined;
          throw error;
        }
      };
      const person = (s: { session: Pick<Session, "csrf">; caller: UserCaller }) => ({ name: s.caller.email, csrf: s.session.csrf });
      const gateway = async <T>(token: string, collectivity: string, operation: string, body?: unknown, service = "identity"): Promise<{ status: number; body: T }> => {
        const url = `${settings.PORTAL_GATEWAY_URL}/api/v1/tenants/${encodeURIComponent(collectivity)}/${service}/${operation}`;
        const answer = await fetch(url, { method: body === undefined ? "GET" : "POST", headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
        return { status: answer.status, body: (await answer.json()) as T };
      };

      /** The services a collectivity has (its ServiceInstances), which its members may read; undefined when they cannot be read. */
      const servicesOf = async (token: string, collectivity: string): Promise<CollectivityService[] | undefined> => {
        const answer = await fetch(`${settings.PORTAL_GATEWAY_URL}/api/v1/tenants/${encodeURIComponent(collectivity)}/service-instances`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
        if (!answer?.ok) return undefined;
        const items = (await answer.json()) as { spec: { service: string }; status?: { conditions?: { type: string; status: string }[] } }[];
        return items.map((i) => ({ service: i.spec.service, ready: Boolean(i.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) })).sort((a, b) => a.service.localeCompare(b.service));
      };

      app.get("/", async (req, res) => {
        const signedIn = await current(req);
        if (!signedIn) return void html(res, 200, signedOutPage());
        const withRoles = Object.entries(signedIn.caller.memberships).filter(([, held]) => held.length > 0);
        const services = Object.fromEntries(await Promise.all(withRoles.map(async ([collectivity]) => [collectivity, await servicesOf(signedIn.session.accessToken, collectivity)] as const)));
        html(res, 200, homePage(signedIn.caller, signedIn.session.csrf, services));
      });

      app.get("/connexion", async (_req, res) => {
        const verifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const nonce = oidc.randomNonce();
        await pending.insertOne({ _id: state, verifier, nonce, createdAt: new Date() });
        const url = oidc.buildAuthorizationUrl(await config(), {
          redirect_uri: `${settings.PORTAL_PUBLIC_URL}/retour`,
          scope: "openid email profile api",
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: "S256",
          state,
          nonce,
        });
        res.redirect(303, url.href);
      });

      app.get("/retour", async (req, res) => {
        const state = typeof req.query.state === "string" ? req.query.state : "";
        const sign = state ? await pending.findOneAndDelete({ _id: state }) : null;
        if (!sign || Date.now() - sign.createdAt.getTime() > 10 * 60_000) return void html(res, 400, errorPage("Connexion expirée", "Cette connexion a expiré : recommencez."));
        if (typeof req.query.error === "string") return void html(res, 401, errorPage("Connexion interrompue", "La connexion n’a pas abouti : recommencez."));
        let tokens;
        try {
          const here = new URL(`${settings.PORTAL_PUBLIC_URL}/retour?${new URLSearchParams(req.query as Record<string, string>).toString()}`);
          tokens = await oidc.authorizationCodeGrant(await config(), here, { pkceCodeVerifier: sign.verifier, expectedState: state, expectedNonce: sign.nonce, idTokenExpected: true });
        } catch (error) {
          log.warn({ reason: (error as Error).message }, "a sign-in at the portal failed");
          return void html(res, 502, errorPage("Connexion impossible", "La connexion n’a pas abouti : recommencez."));
        }
        const key = randomBytes(32).toString("base64url");
        await sessions.insertOne({ _id: digest(key), accessToken: tokens.access_token, ...(tokens.id_token ? { idToken: tokens.id_token } : {}), csrf: randomBytes(24).toString("base64url"), createdAt: new Date() });
        res.cookie(cookieName, key, { httpOnly: true, sameSite: "lax", secure, path: "/", maxAge: settings.PORTAL_SESSION_SECONDS * 1000 });
        res.redirect(303, "/");
      });

      app.post("/deconnexion", form, async (req, res) => {
        const key = cookieOf(req);
        const session = key ? await sessions.findOne({ _id: digest(key) }) : null;
        if (!session || req.body?.csrf !== session.csrf) return void res.redirect(303, "/");
        await sessions.deleteOne({ _id: session._id });
        res.clearCookie(cookieName, { path: "/" });
        // The identity service ends its own session too, then sends the browser back here.
        const end = oidc.buildEndSessionUrl(await config(), { post_logout_redirect_uri: `${settings.PORTAL_PUBLIC_URL}/`, ...(session.idToken ? { id_token_hint: session.idToken } : {}) });
        res.redirect(303, end.href);
      });

      parapheurRoutes(app, { current, html, form, person, gateway: (token, collectivity, operation, body, service) => gateway(token, collectivity, operation, body, service) });

      app.get("/collectivites/:collectivity/membres", async (req, res) => {
        const signedIn = await current(req);
        if (!signedIn) return void res.redirect(303, "/connexion");
        const collectivity = String(req.params.collectivity);
        const listed = await gateway<MemberRow[] | { message: string }>(signedIn.session.accessToken, collectivity, "members.list");
        if (listed.status !== 200) return void html(res, listed.status, errorPage("Accès refusé", "Seuls les administrateurs de la collectivité gèrent ses membres.", person(signedIn)));
        html(res, 200, membersPage(collectivity, listed.body as MemberRow[], person(signedIn)));
      });

      app.post("/collectivites/:collectivity/membres/:subject", form, async (req, res) => {
        const signedIn = await current(req);
        if (!signedIn) return void res.redirect(303, "/connexion");
        if (req.body?.csrf !== signedIn.session.csrf) return void html(res, 403, errorPage("Demande refusée", "Ce formulaire a expiré : rechargez la page.", person(signedIn)));
        const collectivity = String(req.params.collectivity);
        const chosen = ([] as unknown[]).concat(req.body?.roles ?? []).filter((r): r is string => typeof r === "string");
        const granted = await gateway<{ email?: string; message?: string }>(signedIn.session.accessToken, collectivity, "members.grant", { subject: String(req.params.subject), roles: chosen });
        const listed = await gateway<MemberRow[]>(signedIn.session.accessToken, collectivity, "members.list");
        const notice =
          granted.status === 200
            ? { kind: "status" as const, text: `Rôles de ${granted.body.email} enregistrés.` }
            : { kind: "error" as const, text: granted.status === 409 ? "La collectivité doit garder au moins un administrateur." : `Les rôles n’ont pas été changés (${granted.body.message ?? granted.status}).` };
        html(res, granted.status === 200 ? 200 : granted.status, membersPage(collectivity, listed.status === 200 ? listed.body : [], person(signedIn), notice));
      });
    },
  };
}
