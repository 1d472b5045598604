import { describe, expect, it } from "vitest";
import { afterFailure, isLocked } from "./lockout.ts";

const policy = { attempts: 3, lockSeconds: 60 };
const now = new Date("2026-11-30T10:00:00Z");
const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);

describe("lockout", () => {
  it("when an address never failed, then it is not locked", () => expect(isLocked(undefined, now)).toBe(false));
  it("when it fails fewer times than the policy allows, then it is not locked", () => {
    const twice = afterFailure(afterFailure(undefined, policy, now), policy, now);
    expect(twice).toEqual({ failures: 2 });
    expect(isLocked(twice, now)).toBe(false);
  });
  it("when it reaches the policy's number, then it is locked for the policy's time", () => {
    let attempts = undefined;
    for (let i = 0; i < 3; i++) attempts = afterFailure(attempts, policy, now);
    expect(isLocked(attempts, later(59))).toBe(true);
    expect(isLocked(attempts, later(60))).toBe(false);
  });
  it("when a lock has passed and it fails again, then counting starts over", () => {
    const locked = { failures: 3, lockedUntil: later(60) };
    expect(afterFailure(locked, policy, later(61))).toEqual({ failures: 1 });
  });
});
