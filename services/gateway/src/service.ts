import type { Request } from "express";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  authorizationHeader,
  baseSettings,
  ConfigError,
  Forbidden,
  InvalidRequest,
  Repository,
  rolesIn,
  statusOf,
  Unavailable,
  type Caller,
  type CallerVerifier,
  type Database,
  type ServiceDefinition,
} from "@mutualis/service-kit";
import { z } from "zod";
import { CallerKubernetesClient } from "./kubernetes.ts";
import { openApiDocument } from "./openapi.ts";

export const gatewaySettings = baseSettings.extend({
  GATEWAY_PUBLIC_URL: z.url().default("http://127.0.0.1:16081"),
  KUBECONFIG: z.string().optional(),
  GATEWAY_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
  /**
   * The largest request body it forwards: what one NATS message carries (max_payload, 8 MiB), so
   * that an act's files up to ACTES_MAX_FILE_BYTES, or a 1 MiB chunk of an upload, in base64, pass.
   */
  HTTP_BODY_LIMIT: z.string().default("8mb"),
});

export type GatewaySettings = z.infer<typeof gatewaySettings>;

const name = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** An operation may have several tokens (sesf's `shares.create`); never a NATS wildcard. */
const operationName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const instanceRequest = z.object({
  name: z.string().regex(name).max(63),
  service: z.string(),
  plan: z.string().optional(),
  tenancy: z.string().optional(),
  version: z.string().optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
});

interface AuditEntry {
  at: Date;
  user: string;
  collectivity: string;
  action: string;
  status: number;
}

/** Who did what through the gateway; never the request's content. */
class AuditRepository extends Repository<AuditEntry> {
  constructor(database: Database) {
    super(database, "audit");
  }
  async record(entry: AuditEntry): Promise<void> {
    await this.collection.insertOne(entry);
  }
}

function pathParam(req: Request, key: string, pattern = name): string {
  const value = req.params[key];
  if (typeof value !== "string" || !pattern.test(value)) throw new InvalidRequest(`${key} is not a valid name`);
  return value;
}

export interface GatewayOptions {
  /**
   * Stands in for the verification of tokens: only the benchmark sets it, to measure what
   * verifying costs; the service's process (main.ts) never does.
   */
  readonly verifier?: Pick<CallerVerifier, "verify">;
}

/** Who a caller is in the gateway's audit: a person's address, or the platform's software. */
const nameOf = (caller: Caller) => (caller.kind === "user" ? caller.email : `client:${caller.client}`);

/**
 * The gateway: verifies the caller's access token (the platform's issuer, its keys, `exp`, type
 * and audience), refuses a caller with no role in the collectivity of the path, forwards service
 * calls over NATS on `tenant.<collectivity>.<service>.<operation>` with the caller's token (the
 * service verifies it again, and decides what the caller may do), and manages ServiceInstances
 * with the caller's token before the Kubernetes API, whose RBAC decides.
 */
export function gateway(options: GatewayOptions = {}): ServiceDefinition<GatewaySettings> {
  return {
    description: "The platform's service bus facade",
    routes(app, { settings, nats, database, log, callers: verifier }) {
      const callers = options.verifier ?? verifier;
      if (!callers) throw new ConfigError("invalid settings: IDENTITY_ISSUER is required: the gateway verifies every caller's token");
      const kubernetes = new CallerKubernetesClient(settings.KUBECONFIG);
      const audit = new AuditRepository(database);
      const document = openApiDocument(settings.GATEWAY_PUBLIC_URL);

      /** The caller, who must hold a role in the collectivity named in the path (or be the platform's software). */
      const callerFor = async (req: Request): Promise<{ caller: Caller; tenant: string; token: string }> => {
        const caller = await callers.verify(req.headers.authorization);
        const tenant = pathParam(req, "tenant");
        if (caller.kind === "user" && rolesIn(caller, tenant).length === 0) throw new Forbidden(`the caller has no role in collectivity ${tenant}`);
        // The request counts for the collectivity once the caller is known to belong to it: never for a
        // name in a path nobody vouched for (the metrics' labels would be anyone's to make up).
        req.res!.locals.collectivity = tenant;
        return { caller, tenant, token: req.headers.authorization! };
      };
      const record = (caller: Caller, collectivity: string, action: string, status: number) =>
        audit.record({ at: new Date(), user: nameOf(caller), collectivity, action, status }).catch((error: unknown) => log.warn({ err: error }, "audit entry not written"));

      app.get("/api/v1/openapi.json", (_req, res) => {
        res.json(document);
      });

      const instancesPath = (tenant: string) => `/apis/mutualis.fr/v1alpha1/namespaces/coll-${tenant}/serviceinstances`;
      app.get("/api/v1/tenants/:tenant/service-instances", async (req, res) => {
        const { tenant, token } = await callerFor(req);
        const list = await kubernetes.call<{ items: unknown[] }>(token, "GET", instancesPath(tenant));
        res.json(list.items);
      });
      app.post("/api/v1/tenants/:tenant/service-instances", async (req, res) => {
        const { caller, tenant, token } = await callerFor(req);
        const parsed = instanceRequest.safeParse(req.body);
        if (!parsed.success) throw new InvalidRequest("the request is invalid", { details: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) });
        const { name: instanceName, ...spec } = parsed.data;
        try {
          const created = await kubernetes.call(token, "POST", instancesPath(tenant), {
            apiVersion: "mutualis.fr/v1alpha1",
            kind: "ServiceInstance",
            metadata: { name: instanceName },
            spec,
          });
          await record(caller, tenant, `create service-instance ${instanceName}`, 201);
          res.status(201).json(created);
        } catch (error) {
          await record(caller, tenant, `create service-instance ${instanceName}`, statusOf(error));
          throw error;
        }
      });
      app.delete("/api/v1/tenants/:tenant/service-instances/:name", async (req, res) => {
        const { caller, tenant, token } = await callerFor(req);
        const instanceName = pathParam(req, "name");
        await kubernetes.call(token, "DELETE", `${instancesPath(tenant)}/${instanceName}`);
        await record(caller, tenant, `delete service-instance ${instanceName}`, 200);
        res.json({ deleted: instanceName });
      });

      const forward = async (req: Request, input: unknown) => {
        const { caller, tenant, token } = await callerFor(req);
        const service = pathParam(req, "service");
        const operation = pathParam(req, "operation", operationName);
        const subject = `tenant.${tenant}.${service}.${operation}`;
        let reply;
        try {
          // The caller's own token goes with the request: the service verifies it itself.
          const headers = natsHeaders();
          headers.set(authorizationHeader, token);
          reply = await nats.request(subject, JSON.stringify(input ?? {}), { timeout: settings.GATEWAY_REQUEST_TIMEOUT_MS, headers });
        } catch (error) {
          await record(caller, tenant, `${service}.${operation}`, 503);
          throw new Unavailable(`the ${service} service does not answer for ${tenant}: is it enabled (a ServiceInstance) for this collectivity?`, { cause: error });
        }
        const code = Number(reply.headers?.get("Nats-Service-Error-Code") ?? 200);
        await record(caller, tenant, `${service}.${operation}`, code);
        return { code, body: reply.data.length > 0 ? reply.json() : null };
      };
      app.get("/api/v1/tenants/:tenant/:service/:operation", async (req, res) => {
        const { code, body } = await forward(req, req.query);
        res.status(code).json(body);
      });
      app.post("/api/v1/tenants/:tenant/:service/:operation", async (req, res) => {
        const { code, body } = await forward(req, req.body);
        res.status(code).json(body);
      });
    },
  };
}
