import { readFileSync } from "node:fs";
import { Svcm, type Service as NatsService, type ServiceMsg } from "@nats-io/services";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import type { z } from "zod";
import { needsToken, permits, refusal, type Caller, type CallerRule, type CallerVerifier } from "./callers.ts";
import { InvalidRequest, NoReply, publicBody, statusOf, Unauthorized, Unavailable } from "./errors.ts";
import { contractBreaches } from "./contracts.ts";
import type { Logger } from "./log.ts";
import { outcomeOf, type ServiceMetrics } from "./metrics.ts";

export interface RequestContext {
  readonly subject: string;
  /** The collectivity a request on `tenant.<name>.…` comes from; undefined for platform subjects. */
  readonly collectivity?: string;
  /** The request's headers, less its credentials. */
  readonly headers: Record<string, string>;
  /** Who calls, as their verified token says; undefined on a platform subject called without one. */
  readonly caller?: Caller;
}

/** What a handler of a tenant endpoint is given: the collectivity and a verified caller, always. */
export interface TenantRequestContext extends RequestContext {
  readonly collectivity: string;
  readonly caller: Caller;
}

/** One request/reply endpoint of a service: the schema of what it accepts and who may call it. */
export interface EndpointSpec<Request = unknown, Response = unknown> {
  readonly name: string;
  /** Subject, wildcards allowed, e.g. `tenant.*.actes.submit`. */
  readonly subject: string;
  readonly schema?: z.ZodType<Request>;
  /** What it answers: its contract, published (AsyncAPI) and checked on every answer. */
  readonly answer?: z.ZodType;
  /** Who may call: anything it does not allow is refused before the handler runs. */
  readonly callers: CallerRule;
  handle(request: Request, context: RequestContext): Promise<Response>;
}

/**
 * A tenant endpoint (`tenant.*.…`), its handler typed by its schema and given the verified
 * caller: the one way a service declares what it serves to people and the platform's software.
 */
export function tenantEndpoint<S extends z.ZodType, Response>(spec: {
  readonly name: string;
  readonly subject: `tenant.*.${string}`;
  readonly schema: S;
  readonly answer?: z.ZodType;
  readonly callers: CallerRule;
  handle(request: z.output<S>, context: TenantRequestContext): Promise<Response>;
}): EndpointSpec {
  return {
    name: spec.name,
    subject: spec.subject,
    schema: spec.schema,
    ...(spec.answer ? { answer: spec.answer } : {}),
    callers: spec.callers,
    handle: (request, context) => {
      if (!context.collectivity || !context.caller) throw new Unauthorized("a tenant endpoint needs a caller and a collectivity");
      return spec.handle(request as z.output<S>, context as TenantRequestContext);
    },
  };
}

/** A platform endpoint (`platform.…`), which only the operator's NATS user may call. */
export function platformEndpoint<S extends z.ZodType, Response>(spec: {
  readonly name: string;
  readonly subject: `platform.${string}`;
  readonly schema: S;
  handle(request: z.output<S>, context: RequestContext): Promise<Response>;
}): EndpointSpec {
  return { ...spec, callers: { kind: "platform" }, handle: (request, context) => spec.handle(request as z.output<S>, context) };
}

/** The name of the header that carries the caller's token with a request. */
export const authorizationHeader = "Authorization";

/** The collectivity named by a tenant subject `tenant.<name>.…`. */
export function collectivityOf(subject: string): string | undefined {
  const [root, name] = subject.split(".");
  return root === "tenant" && name ? name : undefined;
}

/**
 * The endpoints of a deployment dedicated to one collectivity: its tenant subjects only
 * (`tenant.*.` becomes `tenant.<name>.`; the collectivity's NATS user may subscribe to nothing
 * else), and no platform endpoints, which belong to the shared deployment.
 */
export function endpointsForTenant(endpoints: readonly EndpointSpec[], tenant: string | undefined): EndpointSpec[] {
  if (!tenant) return [...endpoints];
  return endpoints
    .filter((endpoint) => endpoint.subject.startsWith("tenant.*."))
    .map((endpoint) => ({ ...endpoint, subject: `tenant.${tenant}.${endpoint.subject.slice("tenant.*.".length)}` }));
}

export async function connectNats(url: string, credsFile: string | undefined, name: string, log: Logger): Promise<NatsConnection> {
  try {
    const nc = await connect({
      servers: url,
      name,
      // Replies come to the service's own inbox, which its NATS user alone may read.
      inboxPrefix: `_INBOX.${name}`,
      maxReconnectAttempts: -1,
      ...(credsFile ? { authenticator: credsAuthenticator(readFileSync(credsFile)) } : {}),
    });
    void (async () => {
      for await (const status of nc.status()) {
        // The server's reason (a permissions violation names the subject refused), never a credential.
        if (status.type === "error") log.warn({ nats: status.type, reason: status.error.message }, "NATS connection status");
        else if (status.type === "disconnect" || status.type === "reconnect") log.warn({ nats: status.type }, "NATS connection status");
      }
    })();
    return nc;
  } catch (error) {
    throw new Unavailable(`cannot connect to NATS at ${url}: ${(error as Error).message}`, { cause: error });
  }
}

function headersOf(msg: ServiceMsg): Record<string, string> {
  const headers: Record<string, string> = {};
  if (msg.headers) for (const [key, values] of msg.headers) if (key.toLowerCase() !== authorizationHeader.toLowerCase()) headers[key] = values.join(",");
  return headers;
}

/**
 * Who calls, checked against the endpoint's rule before anything else: a token is verified when
 * one is sent; no token, a bad one or a caller the rule does not allow is refused.
 */
async function authorize(endpoint: EndpointSpec, msg: ServiceMsg, collectivity: string | undefined, verifier: CallerVerifier | undefined): Promise<Caller | undefined> {
  const authorization = msg.headers?.get(authorizationHeader) || undefined;
  let caller: Caller | undefined;
  if (authorization) {
    if (!verifier) throw new Unavailable("this service cannot verify callers: it has no identity issuer (IDENTITY_ISSUER)");
    caller = await verifier.verify(authorization);
  }
  // Outside `tenant.…`, a subject is the platform's own (its operator, its connectors): NATS's
  // permissions say who may publish there.
  const platformSubject = !msg.subject.startsWith("tenant.");
  if (permits(endpoint.callers, caller, collectivity, platformSubject)) return caller;
  if (!caller && needsToken(endpoint.callers)) throw new Unauthorized("a bearer token is required");
  throw refusal(endpoint.callers, collectivity);
}

/**
 * Registers the endpoints as a NATS micro-service, so `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS`
 * discover it. Errors are answered with the same status codes HTTP would use.
 */
export async function serveEndpoints(
  nc: NatsConnection,
  identity: { name: string; version: string; description?: string },
  endpoints: readonly EndpointSpec[],
  metrics: ServiceMetrics,
  log: Logger,
  verifier?: CallerVerifier,
): Promise<NatsService> {
  const service = await new Svcm(nc).add({ ...identity, queue: identity.name });
  for (const endpoint of endpoints) {
    service.addEndpoint(endpoint.name, {
      subject: endpoint.subject,
      handler: (error, msg) => {
        if (error) {
          log.error({ err: error, endpoint: endpoint.name }, "endpoint subscription failed");
          return;
        }
        const stop = metrics.natsDuration.startTimer({ endpoint: endpoint.name });
        const collectivity = collectivityOf(msg.subject);
        const started = performance.now();
        const done = (status: number) => metrics.observeTenantRequest(collectivity, "nats", status, (performance.now() - started) / 1000);
        void (async () => {
          try {
            const caller = await authorize(endpoint, msg, collectivity, verifier);
            let input: unknown = undefined;
            if (msg.data.length > 0) {
              try {
                input = msg.json();
              } catch {
                throw new InvalidRequest("the request is not valid JSON");
              }
            }
            const parsed = endpoint.schema ? endpoint.schema.safeParse(input) : { success: true as const, data: input };
            if (!parsed.success) {
              throw new InvalidRequest("the request is invalid", {
                details: parsed.error.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`),
              });
            }
            const context = { subject: msg.subject, collectivity, headers: headersOf(msg), caller };
            const response = await endpoint.handle(parsed.data, context);
            const body = JSON.stringify(response ?? null);
            // An answer outside the published contract is a bug of the service: refused, and logged.
            const breaches = endpoint.answer ? contractBreaches(endpoint, JSON.parse(body)) : undefined;
            if (breaches) {
              log.error({ endpoint: endpoint.name, breaches }, "the service answered outside its contract");
              throw new Error(`${endpoint.name} answered outside its contract`);
            }
            msg.respond(body);
            stop({ outcome: "ok" });
            done(200);
          } catch (failure) {
            if (failure instanceof NoReply) {
              stop({ outcome: "skipped" });
              return;
            }
            const status = statusOf(failure);
            if (status >= 500) log.error({ err: failure, endpoint: endpoint.name }, "endpoint failed");
            msg.respondError(status, publicBody(failure).message, JSON.stringify(publicBody(failure)));
            stop({ outcome: outcomeOf(status) });
            done(status);
          }
        })();
      },
    });
  }
  return service;
}
