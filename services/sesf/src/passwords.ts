import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { Worker } from "node:worker_threads";
import { Forbidden, isDuplicateKey, TooManyRequests, Unavailable, type Database } from "@mutualis/service-kit";
import type { Clock } from "./share-state.ts";

/** scrypt, memory-hard: N = 2^15, r = 8 (32 MiB per hash). */
const cost = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/**
 * The worker's code, plain CommonJS so that it runs the same from the sources and from the
 * bundle. scrypt runs synchronously on the worker's own thread: never on libuv's pool, which
 * the file traffic (reads, writes, encryption) needs.
 */
const workerSource = `
const { parentPort } = require("node:worker_threads");
const { scryptSync } = require("node:crypto");
parentPort.on("message", ({ id, password, salt, length, cost }) => {
  try {
    parentPort.postMessage({ id, hash: scryptSync(password, Buffer.from(salt, "base64"), length, cost).toString("base64") });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;

interface Pending {
  resolve: (hash: Buffer) => void;
  reject: (error: Error) => void;
}

/**
 * Share passwords hashed and checked one at a time on a thread of their own, with a bounded
 * queue: a burst of guesses waits its turn or is refused (503), and never delays file work.
 */
export class PasswordHasher {
  private worker: Worker | undefined;
  private next = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly maxQueued = 16) {}

  private start(): Worker {
    const worker = new Worker(workerSource, { eval: true });
    worker.unref();
    worker.on("message", ({ id, hash, error }: { id: number; hash?: string; error?: string }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (error !== undefined || hash === undefined) waiting?.reject(new Error(`the password could not be hashed: ${error}`));
      else waiting?.resolve(Buffer.from(hash, "base64"));
    });
    const fail = (error: Error) => {
      this.worker = undefined;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", () => fail(new Unavailable("the password checker stopped; try again")));
    return worker;
  }

  private scrypt(password: string, salt: Buffer, length: number, params: { N: number; r: number; p: number }): Promise<Buffer> {
    if (this.pending.size >= this.maxQueued) return Promise.reject(new Unavailable("too many password checks at once: try again in a moment"));
    this.worker ??= this.start();
    const id = this.next++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ id, password: password.normalize("NFC"), salt: salt.toString("base64"), length, cost: { ...params, maxmem: cost.maxmem } });
    });
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const hash = await this.scrypt(password, salt, 32, cost);
    return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString("base64")}$${hash.toString("base64")}`;
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const [scheme, n, r, p, salt, hash] = stored.split("$");
    if (scheme !== "scrypt" || !salt || !hash) return false;
    const expected = Buffer.from(hash, "base64");
    const actual = await this.scrypt(password, Buffer.from(salt, "base64"), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
    return timingSafeEqual(actual, expected);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}

/** How wrong passwords slow down and stop their senders. */
export interface AttemptPolicy {
  /** Wrong passwords allowed before any wait. */
  readonly freeFailures: number;
  /** The longest wait between two attempts; it doubles from one second up to this. */
  readonly maxWaitSeconds: number;
  /** Wrong passwords after which a link stops opening until its sender gives a new one. */
  readonly lockAfter: number;
  /** An address's failures are forgotten after this long without one. */
  readonly forgetAfterSeconds: number;
  /** Checks one link, or one address, may have in progress at once on a replica (a browser downloads in parallel). */
  readonly inFlight: number;
}

export const defaultAttemptPolicy: AttemptPolicy = { freeFailures: 3, maxWaitSeconds: 900, lockAfter: 20, forgetAfterSeconds: 3600, inFlight: 4 };

/** Seconds to wait after `failures` wrong passwords: none for the first few, then 1, 2, 4… up to the maximum. */
export function waitAfter(failures: number, policy: AttemptPolicy): number {
  if (failures <= policy.freeFailures) return 0;
  return Math.min(2 ** (failures - policy.freeFailures - 1), policy.maxWaitSeconds);
}

/** One wrong password: a link's are numbered (its n-th failure), an address's are not. */
interface Failure {
  _id: string;
  key: string;
  at: Date;
}


/**
 * Password attempts limited per link and per client address. Each wrong password is a document
 * of its own (never a counter: FerretDB rewrites a whole document from what it read, and loses
 * one of two updates made at once), so every replica sees every failure and parallel failures
 * all count. After a few, each attempt waits twice as long as the one before, and a link is
 * locked after many: its n-th failure has the id …:n, so exactly one attempt locks it and is
 * recorded doing so. Checks in progress at once are bounded per link and per address, so a
 * burst cannot outrun the count. A locked link says so: its holder has the link already, the
 * password is what it protects.
 */
export class PasswordAttempts {
  private readonly failures;
  private readonly running = new Map<string, number>();

  constructor(
    database: Database,
    private readonly clock: Clock,
    private readonly policy: AttemptPolicy = defaultAttemptPolicy,
  ) {
    this.failures = database.collection<Failure>("password_failures");
  }

  /** Runs `check` if the link and the address may try now; counts a failure when it says false. */
  async attempt(link: string, address: string, check: () => Promise<boolean>): Promise<{ ok: boolean; locked: boolean }> {
    const keys = [`link:${link}`, `address:${address}`];
    for (const key of keys) await this.admissible(key);
    if (keys.some((key) => (this.running.get(key) ?? 0) >= this.policy.inFlight)) throw new TooManyRequests("too many password attempts at once: try again in 1 s", 1);
    for (const key of keys) this.running.set(key, (this.running.get(key) ?? 0) + 1);
    try {
      if (await check()) {
        // The right password: the link starts afresh; the address keeps what it did.
        await this.failures.deleteMany({ key: keys[0]! });
        return { ok: true, locked: false };
      }
      const [linkFailure] = await Promise.all([this.failLink(keys[0]!), this.failures.insertOne({ _id: randomUUID(), key: keys[1]!, at: this.clock() })]);
      return { ok: false, locked: linkFailure === this.policy.lockAfter };
    } finally {
      for (const key of keys) {
        const left = (this.running.get(key) ?? 1) - 1;
        if (left > 0) this.running.set(key, left);
        else this.running.delete(key);
      }
    }
  }

  /** The failures that count now: a link's all, an address's those not yet forgotten. */
  private async recent(key: string): Promise<Failure[]> {
    const since = new Date(this.clock().getTime() - this.policy.forgetAfterSeconds * 1000);
    return this.failures.find(key.startsWith("address:") ? { key, at: { $gt: since } } : { key }).toArray();
  }

  /** Refuses an attempt the failures do not allow now: a locked link, or a wait not over. */
  private async admissible(key: string): Promise<void> {
    const failures = await this.recent(key);
    if (failures.length === 0) return;
    if (key.startsWith("link:") && failures.length >= this.policy.lockAfter) throw new Forbidden("this link is locked after too many wrong passwords: ask its sender for a new one");
    const last = Math.max(...failures.map((f) => f.at.getTime()));
    const retryAt = last + waitAfter(failures.length, this.policy) * 1000;
    const now = this.clock().getTime();
    if (retryAt > now) {
      const seconds = Math.ceil((retryAt - now) / 1000);
      throw new TooManyRequests(`too many wrong passwords: try again in ${seconds} s`, seconds);
    }
  }

  /** Counts a link's failure under the next free number; the number it took. */
  private async failLink(key: string): Promise<number> {
    for (let n = (await this.failures.countDocuments({ key })) + 1; ; n++) {
      try {
        await this.failures.insertOne({ _id: `${key}:${n}`, key, at: this.clock() });
        return n;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
    }
  }
}
