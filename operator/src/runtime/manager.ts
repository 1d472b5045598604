import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import type { ResourceType } from "../kube/resources.ts";
import type { Controller } from "./controller.ts";
import { EventRecorder } from "./events.ts";
import { Informer, type InformerOptions } from "./informer.ts";
import { LeaderElector } from "./leader.ts";
import type { Logger } from "./log.ts";
import { RuntimeMetrics } from "./metrics.ts";

export interface ManagerOptions {
  /** Where /metrics, /healthz and /readyz are served (port 0 picks a free port). */
  readonly httpPort: number;
  readonly httpHost?: string;
  /** Lease-based leader election; off only for single-replica development runs and tests. */
  readonly leaderElection?: { readonly namespace: string; readonly name: string; readonly leaseDurationMs?: number; readonly renewDeadlineMs?: number; readonly retryPeriodMs?: number };
  /** How often informers hand every object to the controllers again. */
  readonly resyncMs?: number;
}

/**
 * Runs informers, controllers, leader election and the metrics/health endpoint, and stops them
 * in order. Informers start at once (a standby replica keeps a warm cache); controllers only
 * while this replica leads.
 */
export class Manager {
  readonly metrics = new RuntimeMetrics();
  // A container's HOSTNAME is its pod's name: the Lease then names the pod that leads.
  readonly identity = `${process.env.HOSTNAME || hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  readonly events: EventRecorder;
  private readonly informers = new Map<string, Informer<KubernetesObject>>();
  private readonly controllers: Controller[] = [];
  private elector: LeaderElector | undefined;
  private server: Server | undefined;
  private leading = false;
  private stopping: Promise<void> | undefined;
  private readonly readinessChecks: (() => boolean)[] = [];
  onLostLeadership: () => void = () => process.exit(1);

  constructor(
    readonly client: KubeClient,
    readonly log: Logger,
    private readonly options: ManagerOptions,
  ) {
    this.events = new EventRecorder(client, "mutualis-operator", this.identity, log);
    client.observe((verb, _path, status) => this.metrics.restRequests.inc({ method: verb, code: String(status) }));
  }

  /** The shared informer of one kind (one cache per kind, however many controllers use it). */
  informer<T extends KubernetesObject>(type: ResourceType, options: InformerOptions = {}): Informer<T> {
    const key = `${type.apiVersion}/${type.kind}/${options.labelSelector ?? ""}/${options.fieldSelector ?? ""}`;
    let informer = this.informers.get(key);
    if (informer && informer.metadataOnly !== (options.metadataOnly ?? false)) {
      throw new Error(`${type.kind} (${key}) is already cached ${informer.metadataOnly ? "as metadata only" : "whole"}: one cache per kind and selector`);
    }
    if (!informer) {
      informer = new Informer(this.client, type, this.log, { resyncMs: this.options.resyncMs, ...options });
      this.informers.set(key, informer);
    }
    return informer as unknown as Informer<T>;
  }

  addController(controller: Controller): void {
    this.controllers.push(controller);
  }

  addReadinessCheck(check: () => boolean): void {
    this.readinessChecks.push(check);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The port /metrics is served on, once started. */
  get port(): number {
    const address = this.server?.address();
    return typeof address === "object" && address ? address.port : 0;
  }

  async start(): Promise<void> {
    await this.serve();
    for (const informer of this.informers.values()) informer.start();
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
    this.log.info({ informers: this.informers.size }, "caches synced");
    const election = this.options.leaderElection;
    if (!election) {
      this.startLeading();
      return;
    }
    this.metrics.leader.set({ name: election.name }, 0);
    this.elector = new LeaderElector(this.client, { ...election, identity: this.identity }, this.log, {
      onStartedLeading: () => this.startLeading(),
      onStoppedLeading: () => {
        this.metrics.leader.set({ name: election.name }, 0);
        this.leading = false;
        // As controller-runtime does: a replica that lost its lease exits and starts afresh.
        this.onLostLeadership();
      },
    });
    this.elector.start();
  }

  private startLeading(): void {
    this.leading = true;
    if (this.options.leaderElection) this.metrics.leader.set({ name: this.options.leaderElection.name }, 1);
    for (const controller of this.controllers) controller.start();
    this.log.info({ controllers: this.controllers.map((c) => c.name) }, "controllers started");
  }

  private ready(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced) && this.readinessChecks.every((check) => check());
  }

  private serve(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/metrics") {
        this.metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { "content-type": this.metrics.registry.contentType });
            res.end(text);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
        return;
      }
      if (path === "/healthz" || path === "/livez") {
        res.writeHead(this.stopping ? 503 : 200, { "content-type": "text/plain" });
        res.end(this.stopping ? "stopping" : "ok");
        return;
      }
      if (path === "/readyz") {
        const ok = !this.stopping && this.ready();
        res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
        res.end(ok ? "ok" : "not ready");
        return;
      }
      res.writeHead(404);
      res.end();
    });
    return new Promise((resolvePromise) =>
      this.server!.listen(this.options.httpPort, this.options.httpHost ?? "127.0.0.1", () => resolvePromise()),
    );
  }

  /** Finishes the reconciles in flight, gives up the lease, then stops watching. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info("shutting down: finishing reconciles in flight");
      await Promise.all(this.controllers.map((c) => c.stop()));
      await this.elector?.stop();
      await Promise.all([...this.informers.values()].map((i) => i.stop()));
      await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
      this.server?.closeAllConnections();
      this.client.close();
      this.log.info("stopped");
    })();
    return this.stopping;
  }
}
