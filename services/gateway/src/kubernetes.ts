import { readFileSync } from "node:fs";
import { request, type RequestOptions } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { Conflict, ConfigError, Forbidden, InvalidRequest, NotFound, Unauthorized, Unavailable, type ServiceError } from "@mutualis/service-kit";

/**
 * Requests to the Kubernetes API as the caller: the gateway forwards the caller's own access
 * token, which the API server verifies with the platform's issuer (its structured authentication
 * configuration), so its RBAC judges the caller as it would judge them with kubectl. The gateway
 * uses only the API server's address and CA from its kubeconfig, never its own credentials, and
 * needs no right of its own: it impersonates nobody.
 */
export class CallerKubernetesClient {
  private readonly server: URL;
  private readonly ca: string | undefined;

  constructor(kubeconfig?: string) {
    const config = new KubeConfig();
    if (kubeconfig) config.loadFromFile(kubeconfig);
    else config.loadFromCluster();
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new ConfigError("invalid settings: the kubeconfig names no cluster");
    this.server = new URL(cluster.server);
    try {
      this.ca = cluster.caData ? Buffer.from(cluster.caData, "base64").toString("utf8") : cluster.caFile ? readFileSync(cluster.caFile, "utf8") : undefined;
    } catch {
      throw new ConfigError(`invalid settings: the API server's CA cannot be read (${cluster.caFile})`);
    }
  }

  /** `authorization` is the caller's `Authorization` header, already verified by the gateway. */
  async call<T>(authorization: string, method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const options: RequestOptions = {
      method,
      hostname: this.server.hostname,
      port: this.server.port,
      path,
      ...(this.ca ? { ca: this.ca } : {}),
      headers: {
        accept: "application/json",
        authorization,
        ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
      },
    };
    const { status, text } = await new Promise<{ status: number; text: string }>((resolvePromise, reject) => {
      const call = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      call.on("error", (error) => reject(new Unavailable("the Kubernetes API cannot be reached", { cause: error })));
      call.end(payload);
    });
    if (status >= 200 && status < 300) return JSON.parse(text) as T;
    let message = `HTTP ${status}`;
    try {
      message = (JSON.parse(text || "{}") as { message?: string }).message ?? message;
    } catch {
      // Not JSON: the status says enough.
    }
    // 401: the API server does not (yet) trust the token, e.g. it has not read the issuer's keys.
    const errorFor: Record<number, new (message: string) => ServiceError> = { 400: InvalidRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 422: InvalidRequest };
    throw new (errorFor[status] ?? Unavailable)(status === 401 ? "the Kubernetes API does not accept the caller's token" : message);
  }
}
