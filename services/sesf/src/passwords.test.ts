import { afterAll, describe, expect, it } from "vitest";
import { defaultAttemptPolicy, PasswordHasher, waitAfter } from "./passwords.ts";

describe("share passwords", () => {
  const hasher = new PasswordHasher(2);
  afterAll(() => hasher.close());

  it("when a password is hashed, then only the same password verifies, and the hash does not contain it", async () => {
    const stored = await hasher.hash("Marché-2026!");
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(stored).not.toContain("Marché");
    expect(await hasher.verify("Marché-2026!", stored)).toBe(true);
    expect(await hasher.verify("marché-2026!", stored)).toBe(false);
    expect(await hasher.verify("Marché-2026!", "md5$abc")).toBe(false);
  });

  it("when more checks are asked at once than the queue holds, then the others are refused at once, not queued", async () => {
    const stored = await hasher.hash("secret-1234");
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => hasher.verify("guess-0000", stored)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(refused).toHaveLength(2);
    expect((refused[0]!.reason as Error).message).toBe("too many password checks at once: try again in a moment");
    // The queue drains: the next check runs.
    expect(await hasher.verify("secret-1234", stored)).toBe(true);
  });

  it("waits after the free failures, doubling up to the maximum", () => {
    const waits = [1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 30].map((n) => waitAfter(n, defaultAttemptPolicy));
    expect(waits).toEqual([0, 0, 0, 1, 2, 4, 8, 256, 512, 900, 900]);
  });
});
