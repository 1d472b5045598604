import { Agent, request, type RequestOptions } from "node:https";
import { createInterface } from "node:readline";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { KubeApiError } from "./errors.ts";
import { inClusterConnection, kubeconfigConnection, type Connection } from "./kubeconfig.ts";
import { resourcePath, resourceTypeOf, type ResourceType } from "./resources.ts";

export interface ObjectList<T> {
  readonly metadata: { readonly resourceVersion?: string; readonly continue?: string };
  readonly items: T[];
}

export interface WatchEvent<T> {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  readonly object: T;
}

export interface ListOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  /**
   * Only each object's metadata (PartialObjectMetadata): what an informer needs to follow
   * objects whose content the operator never reads back, at a fraction of the memory.
   */
  readonly metadataOnly?: boolean;
}

/** The Accept header of a metadata-only list or watch, as client-go's metadata client sends. */
const partialMetadata = (kind: "PartialObjectMetadata" | "PartialObjectMetadataList") => `application/json;as=${kind};g=meta.k8s.io;v=v1,application/json`;

/** Counts every request by verb, so idle write traffic can be measured. */
export type RequestObserver = (verb: string, path: string, status: number) => void;

interface Request {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly path: string;
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
}

function queryString(query: Request["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * A small REST client over the API server, with keep-alive connections. The operator needs
 * only a handful of verbs, server-side apply and streaming watches; owning them keeps every
 * request visible (metrics, tests) and avoids per-call discovery.
 */
export class KubeClient {
  private readonly server: URL;
  private agent: Agent | undefined;
  private tls: Pick<RequestOptions, "ca" | "cert" | "key" | "rejectUnauthorized" | "servername"> = {};
  private authHeaders: RequestOptions["headers"] = {};
  private credentialsReadAt = 0;
  private observer: RequestObserver = () => {};

  private constructor(private readonly connection: Connection) {
    this.server = new URL(connection.server);
  }

  /** From a kubeconfig file, or the pod's service account when none is given. */
  static connect(kubeconfig?: string): KubeClient {
    return new KubeClient(kubeconfig ? kubeconfigConnection(kubeconfig) : inClusterConnection());
  }

  /** From a client-node KubeConfig already loaded (tests, the local platform's tools). */
  static fromKubeConfig(kubeConfig: KubeConfig): KubeClient {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    return new KubeClient({
      server: cluster.server,
      async credentials() {
        const probe: RequestOptions = {};
        await kubeConfig.applyToHTTPSOptions(probe);
        const asBuffer = (value: unknown) => (value === undefined ? undefined : Buffer.from(value as string | Buffer));
        return {
          ca: asBuffer(probe.ca),
          cert: asBuffer(probe.cert),
          key: asBuffer(probe.key),
          ...(probe.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
          ...(probe.servername ? { servername: probe.servername } : {}),
          headers: Object.fromEntries(Object.entries(probe.headers ?? {}).map(([k, v]) => [k, String(v)])),
        };
      },
    });
  }

  observe(observer: RequestObserver): void {
    this.observer = observer;
  }

  /**
   * The kubeconfig's TLS material and auth headers, read once a minute (service-account tokens
   * rotate) rather than per request: client-node re-reads the files and builds a new agent on
   * every call, which costs a TLS handshake per request.
   */
  private async credentials(): Promise<void> {
    if (this.agent && Date.now() - this.credentialsReadAt < 60_000) return;
    const { headers, ...tls } = await this.connection.credentials();
    this.authHeaders = { ...headers };
    if (!this.agent || JSON.stringify(tls) !== JSON.stringify(this.tls)) {
      this.agent?.destroy();
      this.tls = tls;
      this.agent = new Agent({ keepAlive: true, maxSockets: 32, ...tls });
    }
    this.credentialsReadAt = Date.now();
  }

  private async options(method: string, path: string, accept = "application/json"): Promise<RequestOptions> {
    await this.credentials();
    return {
      method,
      protocol: this.server.protocol,
      hostname: this.server.hostname,
      port: this.server.port,
      path,
      agent: this.agent,
      headers: { accept, ...this.authHeaders },
    };
  }

  async request<T>(req: Request): Promise<T> {
    const options = await this.options(req.method, req.path + queryString(req.query), req.accept);
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (payload !== undefined) {
      // Explicitly: Node sends no Content-Length for a DELETE body, and the API server would then
      // read that body as the start of the next request on the same kept-alive connection.
      options.headers = {
        ...options.headers,
        "content-type": req.contentType ?? "application/json",
        "content-length": Buffer.byteLength(payload),
      };
    }
    return new Promise<T>((resolvePromise, reject) => {
      const call = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          this.observer(req.method, req.path, status);
          const text = Buffer.concat(chunks).toString("utf8");
          if (status >= 200 && status < 300) {
            resolvePromise((text ? JSON.parse(text) : undefined) as T);
            return;
          }
          let reason = "Unknown";
          let message = text || `HTTP ${status}`;
          try {
            const parsed = JSON.parse(text) as { reason?: string; message?: string };
            reason = parsed.reason ?? reason;
            message = parsed.message ?? message;
          } catch {
            // not a Status object
          }
          reject(new KubeApiError(status, reason, `${req.method} ${req.path}: ${message}`));
        });
      });
      call.on("error", reject);
      call.setTimeout(60_000, () => call.destroy(new Error(`${req.method} ${req.path} timed out`)));
      call.end(payload);
    });
  }

  get<T extends KubernetesObject>(type: ResourceType, name: string, namespace?: string): Promise<T> {
    return this.request<T>({ method: "GET", path: resourcePath(type, namespace, name) });
  }

  /** Lists every object, following `continue` tokens; returns the list's resourceVersion. */
  async list<T extends KubernetesObject>(type: ResourceType, options: ListOptions = {}): Promise<ObjectList<T>> {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.request<ObjectList<T>>({
        method: "GET",
        path: resourcePath(type, options.namespace),
        query: { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, limit: options.limit ?? 500, continue: token },
        ...(options.metadataOnly ? { accept: partialMetadata("PartialObjectMetadataList") } : {}),
      });
      // An empty PartialObjectMetadataList says `"items": null`.
      items.push(...(page.items ?? []));
      token = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
    } while (token);
    return { metadata: { resourceVersion }, items };
  }

  create<T extends KubernetesObject>(type: ResourceType, object: T): Promise<T> {
    return this.request<T>({ method: "POST", path: resourcePath(type, object.metadata?.namespace), body: object });
  }

  replace<T extends KubernetesObject>(type: ResourceType, object: T): Promise<T> {
    return this.request<T>({
      method: "PUT",
      path: resourcePath(type, object.metadata?.namespace, object.metadata?.name),
      body: object,
    });
  }

  /** Server-side apply: the field manager owns exactly the fields in `object`. */
  apply<T extends KubernetesObject>(object: T, fieldManager: string, subresource?: "status"): Promise<T> {
    if (!object.apiVersion || !object.kind || !object.metadata?.name) {
      throw new Error("server-side apply needs apiVersion, kind and metadata.name");
    }
    const type = resourceTypeOf(object.apiVersion, object.kind);
    return this.request<T>({
      method: "PATCH",
      path: resourcePath(type, object.metadata.namespace, object.metadata.name, subresource),
      query: { fieldManager, force: true },
      body: object,
      contentType: "application/apply-patch+yaml",
    });
  }

  /** A JSON merge patch, on the object or its status subresource. */
  mergePatch<T extends KubernetesObject>(
    type: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    subresource?: "status",
  ): Promise<T> {
    return this.request<T>({
      method: "PATCH",
      path: resourcePath(type, namespace, name, subresource),
      body: patch,
      contentType: "application/merge-patch+json",
    });
  }

  delete(type: ResourceType, name: string, namespace?: string, propagationPolicy: "Background" | "Foreground" | "Orphan" = "Background"): Promise<unknown> {
    return this.request({
      method: "DELETE",
      path: resourcePath(type, namespace, name),
      body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy },
    });
  }

  /**
   * Streams watch events from `resourceVersion` until the server closes the watch (resolves),
   * the signal aborts it (resolves), or it fails (rejects; a 410 arrives as KubeApiError.gone).
   */
  async watch<T extends KubernetesObject>(
    type: ResourceType,
    resourceVersion: string,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
    options: { labelSelector?: string; fieldSelector?: string; timeoutSeconds?: number; metadataOnly?: boolean } = {},
  ): Promise<void> {
    const path =
      resourcePath(type) +
      queryString({
        watch: true,
        resourceVersion,
        allowWatchBookmarks: true,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        timeoutSeconds: options.timeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
      });
    const requestOptions = await this.options("GET", path, options.metadataOnly ? partialMetadata("PartialObjectMetadata") : undefined);
    // Watches are long-lived: keep them off the pooled connections used for requests.
    Object.assign(requestOptions, this.tls, { agent: false });
    await new Promise<void>((resolvePromise, reject) => {
      const call = request({ ...requestOptions, signal }, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => reject(new KubeApiError(res.statusCode ?? 0, "WatchFailed", Buffer.concat(chunks).toString("utf8"))));
          return;
        }
        const lines = createInterface({ input: res });
        lines.on("line", (line) => {
          if (!line.trim()) return;
          const event = JSON.parse(line) as WatchEvent<T>;
          if (event.type === "ERROR") {
            const status = event.object as unknown as { code?: number; reason?: string; message?: string };
            call.destroy();
            reject(new KubeApiError(status.code ?? 500, status.reason ?? "WatchError", status.message ?? "watch error"));
            return;
          }
          onEvent(event);
        });
        const failed = (error: Error) => (signal.aborted ? resolvePromise() : reject(error));
        lines.on("close", () => resolvePromise());
        // readline re-emits its input's errors: both must be handled, or an aborted watch crashes the process.
        lines.on("error", failed);
        res.on("error", failed);
      });
      call.on("error", (error) => (signal.aborted ? resolvePromise() : reject(error)));
      call.end();
    });
  }

  close(): void {
    this.agent?.destroy();
  }
}
