/**
 * What a share is at a given moment, as pure functions of the share and the time: no database,
 * no clock of their own. The use cases (shares.ts) read the time from the clock they were given
 * and act on what these say.
 */

export type ShareState = "open" | "revoked" | "expired" | "exhausted";

/** The time, as the service reads it: injected, so that tests choose it. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/** The parts of a share its state depends on. */
export interface ShareTimes {
  state: ShareState;
  expiresAt: Date;
  uploadsClosedAt?: Date;
  uploadUntil?: Date;
  guest?: unknown;
}

/** The share's state at `now`: an open share past its expiry is expired (and is to be purged). */
export function stateAt(share: ShareTimes, now: Date): ShareState {
  if (share.state === "open" && share.expiresAt.getTime() <= now.getTime()) return "expired";
  return share.state;
}

/** Why nothing can be uploaded to the share at `now`, or undefined when files may still be added. */
export function uploadRefusal(share: ShareTimes, now: Date): string | undefined {
  const state = stateAt(share, now);
  if (state !== "open") return `this share is ${state}: nothing more can be uploaded`;
  if (share.uploadsClosedAt) return share.guest ? "this invitation has been used: its files were sent" : "uploads to this share are closed";
  if (share.uploadUntil && share.uploadUntil.getTime() <= now.getTime()) return "this invitation has expired";
  return undefined;
}

/** What a recipient's link says of a share that is no longer open. */
export function endedMessage(state: Exclude<ShareState, "open">): string {
  const why = { exhausted: "been downloaded as many times as allowed", expired: "expired", revoked: "been withdrawn" }[state];
  return `this share has ${why}; its content is deleted`;
}

/** When a voucher's content expires once the guest is done: `keepDays` from then, else as before. */
export function expiryOnClose(share: { expiresAt: Date; keepDays?: number }, now: Date): Date {
  return share.keepDays ? new Date(now.getTime() + share.keepDays * 86_400_000) : share.expiresAt;
}

/** A share's expiry `days` after `now`. */
export const daysAfter = (now: Date, days: number) => new Date(now.getTime() + days * 86_400_000);
