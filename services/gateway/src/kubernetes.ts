import { request, type RequestOptions } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { Conflict, Forbidden, InvalidRequest, NotFound, Unavailable, type Caller, type ServiceError } from "@mutualis/service-kit";

/**
 * The prefix the API server gives the platform's users and groups (its authentication
 * configuration's claim mappings), so no token can name `system:` users or groups.
 */
export const kubernetesPrefix = "oidc:";

/**
 * Who a caller is before the Kubernetes API: their verified address, and a group per role they
 * hold (`mutualis:<collectivity>:<role>`), computed from their memberships, never taken from
 * what a client sends, and always under the platform's prefix.
 */
export function kubernetesIdentity(caller: Caller): { user: string; groups: string[] } {
  if (caller.kind !== "user") return { user: `${kubernetesPrefix}client:${caller.client}`, groups: [] };
  const groups = Object.entries(caller.memberships).flatMap(([collectivity, roles]) => roles.map((role) => `${kubernetesPrefix}mutualis:${collectivity}:${role}`));
  return { user: `${kubernetesPrefix}${caller.email}`, groups: groups.sort() };
}

/**
 * Requests to the Kubernetes API made on the caller's behalf: the gateway impersonates the
 * caller's verified identity (user and groups, see kubernetesIdentity), so the API server's RBAC
 * decides, as it would for kubectl.
 */
export class ImpersonatingClient {
  private readonly kubeConfig = new KubeConfig();

  constructor(kubeconfig?: string) {
    if (kubeconfig) this.kubeConfig.loadFromFile(kubeconfig);
    else this.kubeConfig.loadFromCluster();
  }

  async call<T>(caller: Caller, method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
    const server = new URL(this.kubeConfig.getCurrentCluster()!.server);
    const options: RequestOptions = {
      method,
      hostname: server.hostname,
      port: server.port,
      path,
      headers: { accept: "application/json" },
    };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const identity = kubernetesIdentity(caller);
    const headers: Record<string, string | string[] | number> = {
      ...(options.headers as Record<string, string>),
      "Impersonate-User": identity.user,
      ...(identity.groups.length > 0 ? { "Impersonate-Group": identity.groups } : {}),
      ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
    };
    options.headers = headers;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolvePromise, reject) => {
      const call = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      call.on("error", (error) => reject(new Unavailable(`the Kubernetes API cannot be reached: ${error.message}`)));
      call.end(payload);
    });
    if (status >= 200 && status < 300) return JSON.parse(text) as T;
    const message = (JSON.parse(text || "{}") as { message?: string }).message ?? `HTTP ${status}`;
    const errorFor: Record<number, new (message: string) => ServiceError> = { 400: InvalidRequest, 403: Forbidden, 404: NotFound, 409: Conflict, 422: InvalidRequest };
    throw new (errorFor[status] ?? Unavailable)(message);
  }
}
