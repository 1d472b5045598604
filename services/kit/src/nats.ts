import { readFileSync } from "node:fs";
import { Svcm, type Service as NatsService, type ServiceMsg } from "@nats-io/services";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import type { z } from "zod";
import { InvalidRequest, NoReply, publicBody, statusOf, Unavailable } from "./errors.ts";
import type { Logger } from "./log.ts";
import { outcomeOf, type ServiceMetrics } from "./metrics.ts";

export interface RequestContext {
  readonly subject: string;
  /** The collectivity a request on `tenant.<name>.…` comes from; undefined for platform subjects. */
  readonly collectivity?: string;
  readonly headers: Record<string, string>;
}

/** One request/reply endpoint of a service, with the schema of what it accepts. */
export interface EndpointSpec<Request = unknown, Response = unknown> {
  readonly name: string;
  /** Subject, wildcards allowed, e.g. `tenant.*.actes.submit`. */
  readonly subject: string;
  readonly schema?: z.ZodType<Request>;
  handle(request: Request, context: RequestContext): Promise<Response>;
}

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
  if (msg.headers) for (const [key, values] of msg.headers) headers[key] = values.join(",");
  return headers;
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
            const context = { subject: msg.subject, collectivity, headers: headersOf(msg) };
            const response = await endpoint.handle(parsed.data, context);
            msg.respond(JSON.stringify(response ?? null));
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
