import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/**
 * Passwords are hashed with scrypt (memory-hard: 32 MiB per hash), asynchronously on libuv's
 * pool so the event loop never waits, and at most `concurrency` at once so a burst of
 * sign-ins cannot take the pool from everything else.
 */
const parameters = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } satisfies ScryptOptions;
const keyLength = 32;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password.normalize("NFKC"), salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key))));
}

export class PasswordHasher {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency: number) {}

  private async turn<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await work();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }

  /** `scrypt$N$r$p$salt$hash`, base64url. */
  hash(password: string): Promise<string> {
    return this.turn(async () => {
      const salt = randomBytes(16);
      const key = await derive(password, salt, parameters);
      return `scrypt$${parameters.N}$${parameters.r}$${parameters.p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
    });
  }

  /** Whether the password matches; a malformed hash never matches. */
  verify(password: string, stored: string): Promise<boolean> {
    const [scheme, n, r, p, salt, key] = stored.split("$");
    if (scheme !== "scrypt" || !salt || !key) return Promise.resolve(false);
    const options = { N: Number(n), r: Number(r), p: Number(p), maxmem: parameters.maxmem };
    return this.turn(async () => {
      const expected = Buffer.from(key, "base64url");
      const actual = await derive(password, Buffer.from(salt, "base64url"), options);
      return actual.length === expected.length && timingSafeEqual(actual, expected);
    });
  }
}

/** A hash no password matches, verified for unknown addresses so they take as long as known ones. */
export const unmatchableHash = `scrypt$${parameters.N}$${parameters.r}$${parameters.p}$${randomBytes(16).toString("base64url")}$${randomBytes(keyLength).toString("base64url")}`;
