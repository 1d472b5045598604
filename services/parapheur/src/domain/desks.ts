import { z } from "zod";
import { deskId } from "./circuit.ts";

const email = z.email().transform((value) => value.toLowerCase());

/** A delegation: the desk's folders may be acted on by another desk's owners, from a moment to another. */
export const delegation = z
  .object({ to: deskId, from: z.coerce.date(), until: z.coerce.date() })
  .strict()
  .refine((d) => d.until > d.from, { message: "a delegation ends after it begins", path: ["until"] });
export type Delegation = z.infer<typeof delegation>;

/** A desk (bureau): its owners act on its folders, its secretariat prepares them; it may delegate. */
export const deskDefinition = z
  .object({
    id: deskId,
    name: z.string().trim().min(1).max(200),
    owners: z.array(email).min(1, "a desk has at least one owner").max(50),
    secretaries: z.array(email).max(50).default([]),
    delegations: z.array(delegation).max(20).default([]),
  })
  .strict()
  .superRefine((desk, context) => {
    desk.delegations.forEach((d, index) => {
      if (d.to === desk.id) context.addIssue({ code: "custom", path: ["delegations", index, "to"], message: "a desk cannot delegate to itself" });
    });
  });
export type DeskDefinition = z.infer<typeof deskDefinition>;

export interface Desk extends DeskDefinition {
  readonly collectivity: string;
}

/** How a person may act for a desk: as its owner, or as an owner of the desk it delegates to. */
export interface Standing {
  readonly desk: string;
  readonly delegate?: string;
}

const inForce = (d: Delegation, now: Date) => d.from <= now && now < d.until;
const paris = (at: Date) => at.toLocaleString("fr-FR", { timeZone: "Europe/Paris", dateStyle: "short", timeStyle: "short" });

/**
 * The standing a person has for one of `wanted` desks: their own desk first, else a delegation
 * in force to a desk they own. A delegation out of its dates is named in the refusal.
 */
export function standingFor(desks: readonly Desk[], email: string, wanted: readonly string[], now: Date): Standing | { refused: string } {
  const person = email.toLowerCase();
  const byId = new Map(desks.map((d) => [d.id, d]));
  const owned = new Set(desks.filter((d) => d.owners.includes(person)).map((d) => d.id));
  const own = wanted.find((id) => owned.has(id));
  if (own) return { desk: own };
  let outOfDates: string | undefined;
  for (const id of wanted) {
    for (const d of byId.get(id)?.delegations ?? []) {
      if (!owned.has(d.to)) continue;
      if (inForce(d, now)) return { desk: id, delegate: d.to };
      outOfDates ??= `desk ${id}'s delegation to desk ${d.to} runs from ${paris(d.from)} to ${paris(d.until)}: it is not in force now`;
    }
  }
  return { refused: outOfDates ?? `you own none of the desks this step waits for (${wanted.join(", ")}), nor a desk they delegate to` };
}

/** The desks a person works at: owned, delegated to one they own (now), or as secretary. */
export function desksOfPerson(desks: readonly Desk[], email: string, now: Date): { owned: string[]; delegating: string[]; secretary: string[] } {
  const person = email.toLowerCase();
  const owned = desks.filter((d) => d.owners.includes(person)).map((d) => d.id);
  return {
    owned,
    delegating: desks.filter((d) => d.delegations.some((x) => owned.includes(x.to) && inForce(x, now))).map((d) => d.id),
    secretary: desks.filter((d) => d.secretaries.includes(person)).map((d) => d.id),
  };
}
