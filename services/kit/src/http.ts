import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Response } from "express";
import helmet from "helmet";
import { InvalidRequest, NotFound, PayloadTooLarge, publicBody, statusOf, TooManyRequests } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { ServiceMetrics } from "./metrics.ts";

export interface HttpOptions {
  readonly bodyLimit: string;
  /** Proxies whose X-Forwarded-For gives the client's address (TRUSTED_PROXIES); none by default. */
  readonly trustedProxies?: readonly string[];
  readonly metrics: ServiceMetrics;
  readonly log: Logger;
  /** Why the service is not ready, or undefined when it is. */
  readonly notReady: () => Promise<string | undefined>;
}

/** What a failure's cause says, for the logs (never for the caller). */
function causeOf(error: unknown): string | undefined {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : cause === undefined ? undefined : String(cause);
}

/** Body-parser failures become the service's own errors, so they map like any other. */
function bodyError(error: { type?: string; message?: string }): Error | undefined {
  if (error.type === "entity.too.large") return new PayloadTooLarge("the request body is too large");
  if (error.type === "entity.parse.failed") return new InvalidRequest("the request body is not valid JSON");
  return undefined;
}

/**
 * The collectivity a request was made for, as the route established it (`res.locals.collectivity`:
 * a verified token's, a share link's): never read from the path, whose names anyone can make up.
 */
function tenantOf(res: Response): string | undefined {
  const found: unknown = res.locals.collectivity;
  return typeof found === "string" && found ? found : undefined;
}

/**
 * The side of a service only the platform reaches (HTTP_INTERNAL_PORT, which no Service or
 * ingress exposes): liveness, readiness, and /metrics, whose per-collectivity figures are not
 * for the public.
 */
export function createInternalApp(options: Pick<HttpOptions, "metrics" | "notReady"> & { readonly contract?: () => unknown }): Express {
  const app = express();
  app.disable("x-powered-by");
  // The service's published contract (AsyncAPI): the subjects it serves and emits, with their schemas.
  app.get("/asyncapi.json", (_req, res) => {
    if (!options.contract) return void res.status(404).type("text/plain").send("not found");
    res.json(options.contract());
  });
  app.get("/healthz", (_req, res) => {
    res.type("text/plain").send("ok");
  });
  app.get("/readyz", async (_req, res) => {
    const reason = await options.notReady();
    res.status(reason ? 503 : 200).type("text/plain").send(reason ?? "ok");
  });
  app.get("/metrics", async (_req, res) => {
    res.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });
  app.use((_req, res) => void res.status(404).type("text/plain").send("not found"));
  return app;
}

/**
 * The public HTTP side of a service: security headers, a body limit, request metrics, the
 * service's routes, then one error handler for everything. Health and metrics are on the
 * internal side (createInternalApp), never here.
 */
export function createHttpApp(options: HttpOptions, routes: (app: Express) => void): Express {
  const app = express();
  app.disable("x-powered-by");
  // The client's address (audits, limits) comes from X-Forwarded-For only when a trusted proxy sent it.
  app.set("trust proxy", options.trustedProxies?.length ? [...options.trustedProxies] : false);
  app.use(helmet());

  const timing: RequestHandler = (req, res, next) => {
    const stop = options.metrics.httpDuration.startTimer();
    res.on("finish", () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : "unmatched";
      const seconds = stop({ method: req.method, route, status_code: String(res.statusCode) });
      options.metrics.observeTenantRequest(tenantOf(res), "http", res.statusCode, seconds);
    });
    next();
  };
  app.use(timing);

  app.use(express.json({ limit: options.bodyLimit }));
  routes(app);

  app.use((req, _res, next) => next(new NotFound(`no route for ${req.method} ${req.path}`)));
  const handleError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    // The route's pattern, never the path itself: a path may carry a capability (a share link).
    const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : "unmatched";
    if (req.destroyed && (error as NodeJS.ErrnoException).code === "ECONNRESET") {
      // The client went away mid-request (a broken link during an upload): not a server fault.
      options.log.info({ method: req.method, route }, "client closed the connection before the end of its request");
      return;
    }
    const mapped = bodyError(error as { type?: string }) ?? error;
    const status = statusOf(mapped);
    // An unexpected failure is an error; a dependency that does not answer (503) is a warning.
    // The cause (an address, a driver's message) is for the logs; the caller gets the message only.
    if (status === 503) options.log.warn({ reason: (mapped as Error).message, cause: causeOf(mapped), method: req.method, route }, "dependency unavailable");
    else if (status >= 500) options.log.error({ err: mapped, method: req.method, route }, "request failed");
    if (mapped instanceof TooManyRequests) res.set("retry-after", String(Math.max(1, Math.ceil(mapped.retryAfterSeconds))));
    res.status(status).json(publicBody(mapped));
  };
  app.use(handleError);
  return app;
}
