import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createLogger, type Logger } from "@mutualis/service-kit";
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from "express";
import type Provider from "oidc-provider";
import { API_PREFIX, authorizeRequestProblem, logoutRequestProblem, ROUTES } from "./contract.ts";
import { interactionRoutes } from "./interactions.ts";
import { signingKeys } from "./keys.ts";
import { errorPage, INLINE_SOURCES } from "./pages.ts";
import { proconnectProvider } from "./provider.ts";
import type { ProConnectSettings, RelyingParty } from "./settings.ts";

/**
 * The pages' Content-Security-Policy. `form-action` lists the services' origins: after the login
 * and logout forms, the browser is redirected to the service, and Chromium checks redirects too.
 */
export function contentSecurityPolicy(clients: readonly RelyingParty[]): string {
  const serviceOrigins = new Set(clients.flatMap((client) => [...client.redirect_uris, ...client.post_logout_redirect_uris]).map((uri) => new URL(uri).origin));
  return [
    "default-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "img-src 'self'",
    `style-src ${INLINE_SOURCES.style}`,
    // oidc-provider adds the hash of its own auto-submitting form's script when it renders one.
    `script-src ${INLINE_SOURCES.script}`,
    `form-action 'self' ${[...serviceOrigins].join(" ")}`.trimEnd(),
  ].join("; ");
}

const securityHeaders =
  (policy: string): RequestHandler =>
  (_req, res, next) => {
    res.set({
      "Content-Security-Policy": policy,
      "X-Content-Type-Options": "nosniff",
      "X-Frame-Options": "DENY",
      "Referrer-Policy": "no-referrer",
      "Cross-Origin-Opener-Policy": "same-origin",
    });
    next();
  };

/** ProConnect refuses what its contract does not name with a "Bad Request" page, before any OIDC processing. */
const refuseWhen =
  (problemOf: (query: Record<string, unknown>) => string | undefined): RequestHandler =>
  (req, res, next) => {
    const problem = problemOf(req.query as Record<string, unknown>);
    if (!problem) {
      next();
      return;
    }
    res.status(400).type("html").send(errorPage({ title: "Requête invalide", message: problem, code: "invalid_request" }));
  };

/**
 * oidc-provider takes a client secret from the body or from Basic authentication alike; ProConnect
 * takes it from the body only (client_secret_post), so a Basic attempt is refused here, as RFC 6749 says.
 */
const refuseBasicAuthentication =
  (issuer: string): RequestHandler =>
  (req, res, next) => {
    if (req.headers.authorization === undefined) {
      next();
      return;
    }
    const error = { error: "invalid_client", error_description: "client authentication must use client_secret_post" };
    res
      .status(401)
      .set({ "Cache-Control": "no-store", "WWW-Authenticate": `Basic realm="${issuer}", error="${error.error}", error_description="${error.error_description}"` })
      .json(error);
  };

function simulatorApp(provider: Provider, settings: ProConnectSettings, log: Logger): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", settings.PROCONNECT_TRUST_PROXY);
  app.use(securityHeaders(contentSecurityPolicy(settings.PROCONNECT_CLIENTS)));
  app.get(["/healthz", "/readyz"], (_req, res) => {
    res.type("text/plain").send("ok");
  });
  app.get(`${API_PREFIX}${ROUTES.authorization}`, refuseWhen((query) => authorizeRequestProblem(Object.keys(query))));
  app.get(`${API_PREFIX}${ROUTES.end_session}`, refuseWhen(logoutRequestProblem));
  app.post(`${API_PREFIX}${ROUTES.token}`, refuseBasicAuthentication(provider.issuer));
  interactionRoutes(app, provider, settings.PROCONNECT_USERS, log);
  app.use(API_PREFIX, provider.callback());
  app.use((_req, res) => {
    res.status(404).type("html").send(errorPage({ title: "Page introuvable", message: "Cette adresse n'existe pas dans le simulateur ProConnect." }));
  });
  const failed: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    log.error({ err: error, method: req.method, path: req.path }, "request failed");
    res.status(500).type("html").send(errorPage({ title: "Erreur du simulateur", message: "Le simulateur n'a pas pu traiter la demande.", code: "server_error" }));
  };
  app.use(failed);
  return app;
}

/** The address the simulator is reached at when no public URL is set: the one it listens on. */
export function listeningOrigin(host: string, port: number, secure: boolean): string {
  const name = ["", "0.0.0.0", "::"].includes(host) ? "localhost" : host.includes(":") ? `[${host}]` : host;
  return `${secure ? "https" : "http"}://${name}:${port}`;
}

/**
 * The ProConnect simulator as a process of its own: an OpenID Connect provider (oidc-provider)
 * keeping ProConnect's contract, with a login page offering test agents. It needs neither NATS
 * nor a database: its sessions live in memory. `start()` listens (port 0 in tests), `stop()`
 * lets requests in flight finish.
 */
export class ProConnectSimulator {
  readonly log: Logger;
  private server: Server | undefined;
  private app: Express | undefined;
  private publicOrigin: string | undefined;
  private stopping: Promise<void> | undefined;

  constructor(readonly settings: ProConnectSettings) {
    this.log = createLogger(settings.SERVICE_NAME, settings.LOG_LEVEL);
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Where browsers and services reach it, once started. */
  get url(): string {
    if (!this.publicOrigin) throw new Error("the ProConnect simulator is not started");
    return this.publicOrigin;
  }

  /** The issuer, which the discovery document is found under. */
  get issuer(): string {
    return `${this.url}${API_PREFIX}`;
  }

  async start(): Promise<this> {
    const { settings, log } = this;
    const tls = settings.PROCONNECT_TLS_CERT_FILE && settings.PROCONNECT_TLS_KEY_FILE
      ? { cert: await readFile(settings.PROCONNECT_TLS_CERT_FILE), key: await readFile(settings.PROCONNECT_TLS_KEY_FILE) }
      : undefined;
    const jwks = await signingKeys(settings.PROCONNECT_JWKS_FILE);
    // The issuer names the port, known only once listening (port 0 in tests): until the app exists, answer 503.
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      if (this.app) this.app(req, res);
      else res.writeHead(503).end();
    };
    const server = tls ? createHttpsServer(tls, handle) : createHttpServer(handle);
    this.server = server;
    server.listen(settings.HTTP_PORT, settings.HTTP_HOST);
    await once(server, "listening");
    this.publicOrigin = settings.PROCONNECT_PUBLIC_URL ?? listeningOrigin(settings.HTTP_HOST, this.port, tls !== undefined);
    const provider = proconnectProvider({ settings, issuer: this.issuer, jwks, log });
    this.app = simulatorApp(provider, settings, log);
    if (this.issuer.startsWith("https:") && !tls && !settings.PROCONNECT_TRUST_PROXY) {
      log.warn("the issuer is https but the simulator neither listens with TLS nor trusts a proxy's X-Forwarded-Proto: discovery will give http endpoints");
    }
    log.info(
      { issuer: this.issuer, port: this.port, tls: tls !== undefined, clients: settings.PROCONNECT_CLIENTS.map((client) => client.client_id), agents: settings.PROCONNECT_USERS.length },
      "ProConnect simulator started",
    );
    return this;
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve, reject) => {
      const server = this.server;
      if (!server) {
        resolve();
        return;
      }
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeIdleConnections();
    }).then(() => this.log.info("stopped"));
    return this.stopping;
  }
}

/** The simulator, not yet started. */
export function proconnectSimulator(settings: ProConnectSettings): ProConnectSimulator {
  return new ProConnectSimulator(settings);
}
