/**
 * When a collectivity's act becomes enforceable, and how long it stays online, since the reform
 * of 1 July 2022 (ordonnance 2021-1310, décret 2021-1311): an act is enforceable once published
 * electronically and, if the prefecture controls it, once transmitted to it (the date of its
 * acknowledgement); it stays online at least two months; the list of the délibérations of a
 * session goes online within a week.
 */
export interface PublishedAct {
  readonly publishedOn: string;
  /** The prefecture's acknowledgement, for an act it controls. */
  readonly acknowledgedOn?: string;
  readonly controlled: boolean;
}

const day = 86_400_000;

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * day).toISOString().slice(0, 10);
}

/** The day the act became enforceable; none yet for a controlled act the prefecture has not acknowledged. */
export function enforceableOn(act: PublishedAct): string | undefined {
  if (!act.controlled) return act.publishedOn;
  if (!act.acknowledgedOn) return undefined;
  return act.acknowledgedOn > act.publishedOn ? act.acknowledgedOn : act.publishedOn;
}

/** The first day the act may leave the public pages: two months after it was put online. */
export function onlineUntilAtLeast(publishedOn: string): string {
  const date = new Date(`${publishedOn}T00:00:00Z`);
  const month = date.getUTCMonth() + 2;
  const target = new Date(Date.UTC(date.getUTCFullYear(), month, 1));
  // The same day two months later, or the month's last day when it has fewer days.
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(date.getUTCDate(), last));
  return target.toISOString().slice(0, 10);
}

/** The last day to put the list of a session's délibérations online: a week after the session. */
export function deliberationListDue(sessionOn: string): string {
  return addDays(sessionOn, 7);
}
