import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "@mutualis/operator";
import { listPage, messagePage, notFoundPage } from "./pages.ts";
import type { MessageStore } from "./store.ts";

export interface WebOptions {
  readonly host: string;
  readonly port: number;
  readonly store: MessageStore;
  readonly log: Logger;
}

/**
 * Messages carry capabilities: never cached, never named in a Referer. The policy lets a page
 * load nothing but its own inline style, and so lets the sandboxed HTML of a message load nothing.
 */
const commonHeaders = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...commonHeaders, "content-type": `${type}; charset=utf-8`, ...headers });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json", JSON.stringify(body));
}

function notFound(res: ServerResponse, api: boolean): void {
  if (api) json(res, 404, { error: "NotFound", message: "no such message" });
  else send(res, 404, "text/html", notFoundPage());
}

function methodNotAllowed(res: ServerResponse, allowed: string): void {
  send(res, 405, "text/plain", "method not allowed\n", { allow: allowed });
}

/** A path segment as written by `encodeURIComponent`; a malformed one names no message. */
function decodedOrEmpty(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return "";
  }
}

async function route(req: IncomingMessage, res: ServerResponse, store: MessageStore): Promise<void> {
  const url = new URL(req.url ?? "/", "http://mail-catcher");
  const method = req.method ?? "GET";
  const path = url.pathname;
  if (path === "/healthz" || path === "/readyz") return send(res, 200, "text/plain", "ok\n");
  if (path === "/api/messages") {
    if (method === "GET") return json(res, 200, { messages: store.list({ to: url.searchParams.get("to") ?? undefined }) });
    if (method === "DELETE") {
      await store.clear();
      res.writeHead(204, commonHeaders).end();
      return;
    }
    return methodNotAllowed(res, "GET, DELETE");
  }
  const api = path.startsWith("/api/messages/");
  const id = /^\/(?:api\/)?messages\/([^/]+)$/.exec(path)?.[1];
  if (path !== "/" && id === undefined) return notFound(res, api);
  if (method !== "GET") return methodNotAllowed(res, "GET");
  if (id === undefined) return send(res, 200, "text/html", listPage(store.list()));
  const message = store.get(decodedOrEmpty(id));
  if (!message) return notFound(res, api);
  return api ? json(res, 200, message) : send(res, 200, "text/html", messagePage(message));
}

/**
 * The catcher's web side: pages for a person (`/`, `/messages/:id`) and a JSON API for the demo
 * and the tests (`GET /api/messages[?to=]`, `GET /api/messages/:id`, `DELETE /api/messages`).
 */
export async function startWeb(options: WebOptions): Promise<Server> {
  const { store, log } = options;
  const server = createServer((req, res) => {
    route(req, res, store).catch((error: unknown) => {
      log.error({ err: error, method: req.method }, "request failed");
      if (!res.headersSent) json(res, 500, { error: "InternalError", message: "the request failed; see the catcher's log" });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
