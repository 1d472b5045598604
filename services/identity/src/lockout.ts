/** What is known of the recent failed sign-ins for one address (known to the platform or not). */
export interface Attempts {
  readonly failures: number;
  readonly lockedUntil?: Date;
}

export interface LockoutPolicy {
  readonly attempts: number;
  readonly lockSeconds: number;
}

/** Whether an address may try a password now. */
export function isLocked(attempts: Attempts | undefined, now: Date): boolean {
  return attempts?.lockedUntil !== undefined && attempts.lockedUntil.getTime() > now.getTime();
}

/**
 * After a failure: the count goes up, and reaching the policy's number locks the address for a
 * while. Unknown addresses are counted the same way, so a lockout says nothing of whether an
 * account exists.
 */
export function afterFailure(attempts: Attempts | undefined, policy: LockoutPolicy, now: Date): Attempts {
  const expired = attempts?.lockedUntil !== undefined && attempts.lockedUntil.getTime() <= now.getTime();
  const failures = (expired ? 0 : (attempts?.failures ?? 0)) + 1;
  if (failures >= policy.attempts) return { failures, lockedUntil: new Date(now.getTime() + policy.lockSeconds * 1000) };
  return { failures };
}
