/**
 * How long to wait before the next attempt of work that failed on something passing (NATS away
 * for a moment, a message to deliver again): 0.5 s doubled at each attempt, at most 30 s.
 */
export function retryDelayMs(attempt: number): number {
  return Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
}
