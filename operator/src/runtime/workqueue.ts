/** Hooks for the workqueue_* metrics. */
export interface QueueMetrics {
  add(): void;
  retry(): void;
  depth(value: number): void;
}

const noMetrics: QueueMetrics = { add() {}, retry() {}, depth() {} };

export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Per-item exponential backoff: base·2^failures, capped (client-go's ItemExponentialFailureRateLimiter). */
export class ItemBackoff {
  private readonly failures = new Map<string, number>();
  constructor(private readonly options: BackoffOptions = { baseMs: 5, maxMs: 300_000 }) {}

  when(key: string): number {
    const count = this.failures.get(key) ?? 0;
    this.failures.set(key, count + 1);
    return Math.min(this.options.maxMs, this.options.baseMs * 2 ** count);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}

/**
 * A deduplicating work queue with the guarantees of client-go's: a key waiting in the queue is
 * there once however often it is added; a key being processed is never handed to a second
 * worker, and if it is added meanwhile it comes back once the first worker is done.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly drainWaiters: (() => void)[] = [];
  private shuttingDown = false;

  constructor(
    private readonly backoff = new ItemBackoff(),
    private readonly metrics: QueueMetrics = noMetrics,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    this.metrics.add();
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
      this.metrics.depth(this.queue.length);
    }
  }

  /** Adds the key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Adds the key after its backoff delay, which doubles with each failure until forget(). */
  addRateLimited(key: string): void {
    this.metrics.retry();
    this.addAfter(key, this.backoff.when(key));
  }

  forget(key: string): void {
    this.backoff.forget(key);
  }

  retries(key: string): number {
    return this.backoff.retries(key);
  }

  /** The next key to process, or undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.metrics.depth(this.queue.length);
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
    if (this.processing.size === 0) this.drainWaiters.splice(0).forEach((r) => r());
  }

  /** Stops handing out keys and waits for the keys being processed to be done. */
  async shutDownWithDrain(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.waiters.splice(0).forEach((w) => w(undefined));
    if (this.processing.size > 0) await new Promise<void>((r) => this.drainWaiters.push(r));
  }
}
