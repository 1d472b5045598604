import { z } from "zod";

const slug = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be lowercase letters, digits and dashes").max(63);

/**
 * A step of a flow: a service the document goes through. `parapheur`: a circuit of the
 * collectivity's (its type and subtype), sent from one of its desks; `actes`: transmitted to the
 * prefecture (@ctes), the step done once it is acknowledged; `ipl`: published in full — after
 * @ctes, with its acknowledgement; without, as an act the prefecture does not control (an arrêté
 * individuel, say).
 */
export const flowStep = z.discriminatedUnion("service", [
  z.object({ service: z.literal("parapheur"), type: slug, subtype: slug, desk: slug }).strict(),
  z.object({ service: z.literal("actes") }).strict(),
  z.object({ service: z.literal("ipl") }).strict(),
]);
export type FlowStep = z.infer<typeof flowStep>;

/**
 * A flow, per collectivity and kind of document: its steps in order, and what the published act
 * is (its nature as @ctes numbers them, its classification). Validated when saved: a circuit
 * first if any, once; @ctes once, after it; the publication last, once.
 */
export const flowDefinition = z
  .object({
    kind: slug,
    name: z.string().trim().min(1).max(200),
    nature: z.number().int().min(1).max(6),
    classification: z.string().regex(/^[0-9](\.[0-9]{1,2}){0,4}$/, "a classification such as 7.1"),
    steps: z.array(flowStep).min(1, "a flow has at least one step").max(5),
  })
  .strict()
  .superRefine((flow, context) => {
    const at = (service: FlowStep["service"]) => flow.steps.flatMap((s, i) => (s.service === service ? [i] : []));
    const circuits = at("parapheur");
    const publications = at("ipl");
    if (circuits.length > 1 || (circuits.length === 1 && circuits[0] !== 0)) context.addIssue({ code: "custom", path: ["steps"], message: "the circuit comes first, once" });
    const transmissions = at("actes");
    if (transmissions.length > 1) context.addIssue({ code: "custom", path: ["steps"], message: "@ctes comes once" });
    if (publications.length > 1 || (publications.length === 1 && publications[0] !== flow.steps.length - 1)) context.addIssue({ code: "custom", path: ["steps"], message: "the publication comes last, once" });
  });
export type FlowDefinition = z.infer<typeof flowDefinition>;

/** The id of what a step makes in another service (a folder), the same each time the step runs: a UUID from the document and the step. */
export function stepRef(document: string, step: number, hash: (text: string) => string): string {
  const hex = hash(`${document}/${step}`).slice(0, 32).split("");
  hex[12] = "4";
  hex[16] = "89ab"[Number.parseInt(hex[16]!, 16) % 4]!;
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
