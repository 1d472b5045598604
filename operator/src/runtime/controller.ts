import type { KubernetesObject } from "@kubernetes/client-node";
import { isConflict } from "../kube/errors.ts";
import { objectKey, type Informer } from "./informer.ts";
import type { Logger } from "./log.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { ItemBackoff, WorkQueue } from "./workqueue.ts";

export interface Request {
  readonly name: string;
  readonly namespace?: string;
}

export interface Result {
  /** Reconcile this object again after this long, even if nothing changes. */
  readonly requeueAfterMs?: number;
}

export interface Reconciler {
  /** Resolves with when to look again, or undefined when only a change should trigger it. */
  reconcile(request: Request): Promise<Result | undefined>;
  /** Says in the object's status that its reconcile failed (never only a log line); best effort. */
  reportFailure?(request: Request, error: unknown): Promise<void>;
}

/** A failure retrying cannot fix (the reconciler has said so in status): do not requeue. */
export class TerminalError extends Error {
  override name = "TerminalError";
}

export function requestOf(key: string): Request {
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export interface ControllerOptions {
  readonly name: string;
  readonly workers?: number;
  readonly backoff?: ItemBackoff;
}

/**
 * Feeds keys of changed objects into a work queue and reconciles them with a fixed number of
 * workers: the queue guarantees at most one reconcile per object at a time; failures come back
 * with per-object exponential backoff.
 */
export class Controller {
  readonly name: string;
  private readonly queue: WorkQueue;
  private readonly workers: number;
  private running: Promise<void>[] = [];
  private started = false;

  constructor(
    options: ControllerOptions,
    private readonly reconciler: Reconciler,
    private readonly metrics: RuntimeMetrics,
    private readonly log: Logger,
  ) {
    this.name = options.name;
    this.workers = options.workers ?? 4;
    this.queue = new WorkQueue(options.backoff ?? new ItemBackoff(), metrics.queue(options.name));
    // As controller-runtime does, every series exists from the start, at zero: a dashboard or
    // an alert on errors sees 0, not "no data".
    const labels = { controller: this.name };
    for (const result of ["success", "error", "requeue_after"]) metrics.reconcileTotal.inc({ ...labels, result }, 0);
    metrics.reconcileErrors.inc(labels, 0);
    metrics.terminalErrors.inc(labels, 0);
    metrics.queueAdds.inc({ name: this.name }, 0);
    metrics.queueRetries.inc({ name: this.name }, 0);
    metrics.queueDepth.set({ name: this.name }, 0);
  }

  /** Reconciles the primary kind's objects when they change. */
  watchPrimary<T extends KubernetesObject>(informer: Informer<T>): this {
    informer.on((_kind, object) => this.queue.add(objectKey(object)));
    return this;
  }

  /** Reconciles the owner when an object it controls changes or disappears (drift repair). */
  watchOwned<T extends KubernetesObject>(informer: Informer<T>, ownerKind: string, ownerNamespaced = false): this {
    informer.on((kind, object) => {
      if (kind === "resync") return;
      const owner = object.metadata?.ownerReferences?.find((o) => o.controller && o.kind === ownerKind);
      if (!owner) return;
      this.queue.add(ownerNamespaced && object.metadata?.namespace ? `${object.metadata.namespace}/${owner.name}` : owner.name);
    });
    return this;
  }

  /** Reconciles whatever `map` names when an object of another kind changes. */
  /**
   * Enqueues the keys `map` names for each change of another kind; `relevant`, given the old and
   * new object of an update, may skip changes that cannot matter (a status write, say).
   */
  watchMapped<T extends KubernetesObject>(informer: Informer<T>, map: (object: T) => string[], relevant?: (object: T, old: T) => boolean): this {
    informer.on((kind, object, old) => {
      if (kind === "resync") return;
      if (kind === "update" && old && relevant && !relevant(object, old)) return;
      for (const key of map(object)) this.queue.add(key);
    });
    return this;
  }

  enqueue(key: string, afterMs = 0): void {
    this.queue.addAfter(key, afterMs);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.metrics.maxConcurrentReconciles.set({ controller: this.name }, this.workers);
    for (let i = 0; i < this.workers; i++) this.running.push(this.work());
  }

  /** Stops taking work and waits for the reconciles in flight to finish. */
  async stop(): Promise<void> {
    await this.queue.shutDownWithDrain();
    await Promise.all(this.running);
    this.running = [];
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    const labels = { controller: this.name };
    this.metrics.activeWorkers.inc(labels);
    const stopTimer = this.metrics.reconcileTime.startTimer(labels);
    try {
      const result = (await this.reconciler.reconcile(requestOf(key))) ?? {};
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics.reconcileTotal.inc({ ...labels, result: "requeue_after" });
      } else {
        this.metrics.reconcileTotal.inc({ ...labels, result: "success" });
      }
    } catch (error) {
      this.metrics.reconcileErrors.inc(labels);
      this.metrics.reconcileTotal.inc({ ...labels, result: "error" });
      if (error instanceof TerminalError) {
        this.metrics.terminalErrors.inc(labels);
        this.queue.forget(key);
        this.log.error({ controller: this.name, key, err: error }, "reconcile failed for good");
      } else if (isConflict(error)) {
        // Someone wrote the object since it was read: usual under load, and the retry reads it afresh.
        this.log.debug({ controller: this.name, key }, "conflict, reconciling again");
        this.queue.addRateLimited(key);
      } else {
        this.log.warn({ controller: this.name, key, err: error, retries: this.queue.retries(key) }, "reconcile failed, will retry");
        this.queue.addRateLimited(key);
      }
      if (!isConflict(error)) {
        await this.reconciler.reportFailure?.(requestOf(key), error).catch((reportError: unknown) =>
          this.log.debug({ controller: this.name, key, err: reportError }, "the failure could not be written in status"),
        );
      }
    } finally {
      stopTimer();
      this.metrics.activeWorkers.dec(labels);
      this.queue.done(key);
    }
  }
}
