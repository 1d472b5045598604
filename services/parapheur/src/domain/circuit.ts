import { z } from "zod";

/**
 * A circuit as iParapheur has it — visas, signatures, the collectivity's seal — and one step it
 * has not: several desks in parallel, of which a quorum must approve ("two of the three
 * vice-presidents"). A step of several desks without a quorum needs one of them, as iParapheur's.
 */
export const stepTypes = ["VISA", "SIGNATURE", "SEAL"] as const;
export type StepType = (typeof stepTypes)[number];

export const deskId = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be lowercase letters, digits and dashes").max(63);

const personStep = z
  .object({
    type: z.enum(["VISA", "SIGNATURE"]),
    desks: z.array(deskId).min(1).max(20),
    /** How many of the desks must approve; one when not said. */
    quorum: z.number().int().min(1).optional(),
  })
  .strict();
const sealStep = z.object({ type: z.literal("SEAL") }).strict();

export const circuitDefinition = z
  .array(z.discriminatedUnion("type", [personStep, sealStep]))
  .min(1, "a circuit has at least one step")
  .max(30)
  .superRefine((steps, context) => {
    steps.forEach((step, index) => {
      if (step.type === "SEAL") return;
      if (new Set(step.desks).size !== step.desks.length) context.addIssue({ code: "custom", path: [index, "desks"], message: "a desk is named twice in this step" });
      if (step.quorum !== undefined && step.quorum > step.desks.length) {
        context.addIssue({ code: "custom", path: [index, "quorum"], message: `the quorum (${step.quorum}) is more than the step's desks (${step.desks.length})` });
      }
    });
  });
export type CircuitDefinition = z.infer<typeof circuitDefinition>;

/** The desks a circuit names, to check they exist when it is saved. */
export const desksOf = (circuit: CircuitDefinition): string[] => [...new Set(circuit.flatMap((step) => (step.type === "SEAL" ? [] : step.desks)))];

/** A step's state, with iParapheur's names; a folder's is DRAFT, PENDING, REJECTED or FINISHED (LATE is PENDING past its due date). */
export type StepState = "UPCOMING" | "CURRENT" | "VALIDATED" | "REJECTED" | "BYPASSED";
export type FolderState = "DRAFT" | "PENDING" | "REJECTED" | "FINISHED";
export type ActionKind = "visa" | "signature" | "seal" | "rejection" | "bypass" | "transfer" | "second-opinion";

/** What someone (or the platform, for the seal) did at a step. */
export interface StepAction {
  readonly kind: ActionKind;
  /** The desk acted for; none for the seal and a bypass. */
  readonly desk?: string;
  /** The person (their e-mail), or "plateforme" for the seal. */
  readonly by: string;
  readonly at: Date;
  /** The delegate's own desk, when `by` acted for `desk` through its delegation. */
  readonly delegate?: string;
  readonly reason?: string;
  /** For a transfer or a request for a second opinion: the desk it went to. */
  readonly to?: string;
}

export interface Step {
  readonly type: StepType;
  readonly desks: readonly string[];
  readonly quorum: number;
  readonly state: StepState;
  readonly actions: readonly StepAction[];
  /** A visa asked of another desk for its opinion, by the desk named here, which gets the folder back after it. */
  readonly secondOpinionFor?: string;
}

export interface Progress {
  readonly state: FolderState;
  readonly steps: readonly Step[];
}

/** Why an action is refused: the folder is not where the action needs it (409) or the desk has no say (403). */
export class CircuitError extends Error {
  override name = "CircuitError";
  constructor(
    readonly kind: "state" | "desk",
    message: string,
  ) {
    super(message);
  }
}

/** The folder sent into its circuit: the first step is current. */
export function begin(circuit: CircuitDefinition): Progress {
  return {
    state: "PENDING",
    steps: circuit.map((step, index) => ({
      type: step.type,
      desks: step.type === "SEAL" ? [] : step.desks,
      quorum: step.type === "SEAL" ? 1 : (step.quorum ?? 1),
      state: index === 0 ? "CURRENT" : "UPCOMING",
      actions: [],
    })),
  };
}

/** The current step and its index, while the folder is in its circuit. */
export function current(progress: Progress): { index: number; step: Step } | undefined {
  if (progress.state !== "PENDING") return undefined;
  const index = progress.steps.findIndex((step) => step.state === "CURRENT");
  return index < 0 ? undefined : { index, step: progress.steps[index]! };
}

const approval: Record<StepType, ActionKind> = { VISA: "visa", SIGNATURE: "signature", SEAL: "seal" };
const stepName: Record<StepType, string> = { VISA: "a visa", SIGNATURE: "a signature", SEAL: "the seal" };

function requireCurrent(progress: Progress): { index: number; step: Step } {
  const found = current(progress);
  if (!found) throw new CircuitError("state", progress.state === "DRAFT" ? "the folder has not been sent into its circuit" : `the folder is ${progress.state.toLowerCase()}: nothing is waiting`);
  return found;
}

/** Whether a desk has decided at a step: approved or rejected (asking an opinion is not deciding). */
export function decided(step: Step, desk: string): boolean {
  return step.actions.some((action) => action.desk === desk && (action.kind === "visa" || action.kind === "signature" || action.kind === "rejection"));
}

function requireDesk(step: Step, desk: string): void {
  if (!step.desks.includes(desk)) throw new CircuitError("desk", `desk ${desk} has no say at this step`);
  if (decided(step, desk)) throw new CircuitError("state", `desk ${desk} has already acted at this step`);
}

function replaced(progress: Progress, index: number, step: Step, state: FolderState = progress.state): Progress {
  return { state, steps: progress.steps.map((s, i) => (i === index ? step : s)) };
}

/** The step is done: the next becomes current, or the folder is finished. */
function advance(progress: Progress, index: number): Progress {
  if (index + 1 >= progress.steps.length) return { ...progress, state: "FINISHED" };
  return replaced(progress, index + 1, { ...progress.steps[index + 1]!, state: "CURRENT" });
}

/**
 * A desk approves the current step (a visa, a signature), or the platform applies the seal. The
 * step is validated once its quorum of desks has approved.
 */
export function approve(progress: Progress, action: Omit<StepAction, "kind" | "reason"> & { readonly kind: "visa" | "signature" | "seal" }): Progress {
  const { index, step } = requireCurrent(progress);
  if (approval[step.type] !== action.kind) throw new CircuitError("state", `this step needs ${stepName[step.type]}, not a ${action.kind}`);
  if (step.type !== "SEAL") requireDesk(step, action.desk ?? "");
  const actions = [...step.actions, action];
  const approvals = actions.filter((a) => a.kind === action.kind).length;
  if (approvals < step.quorum) return replaced(progress, index, { ...step, actions });
  return advance(replaced(progress, index, { ...step, actions, state: "VALIDATED" }), index);
}

/**
 * A desk rejects the current step, with its reason. The folder is rejected when the step's
 * quorum can no longer be reached (at once for a step of one desk).
 */
export function reject(progress: Progress, action: Omit<StepAction, "kind">): Progress {
  const { index, step } = requireCurrent(progress);
  if (step.type === "SEAL") throw new CircuitError("state", "the seal is applied by the platform: it cannot be rejected");
  if (!action.reason?.trim()) throw new CircuitError("state", "a rejection needs its reason");
  requireDesk(step, action.desk ?? "");
  const actions = [...step.actions, { ...action, kind: "rejection" as const }];
  const rejections = actions.filter((a) => a.kind === "rejection").length;
  if (step.desks.length - rejections >= step.quorum) return replaced(progress, index, { ...step, actions });
  return replaced(progress, index, { ...step, actions, state: "REJECTED" }, "REJECTED");
}

/** An administrator passes the current step over, with the reason: it is recorded as such. */
export function bypass(progress: Progress, action: Pick<StepAction, "by" | "at" | "reason">): Progress {
  const { index, step } = requireCurrent(progress);
  if (!action.reason?.trim()) throw new CircuitError("state", "passing a step over needs its reason");
  return advance(replaced(progress, index, { ...step, actions: [...step.actions, { ...action, kind: "bypass" }], state: "BYPASSED" }), index);
}

/**
 * A desk hands its part of the current step to another desk (iParapheur's transfer): that desk
 * acts in its place; the step keeps its quorum.
 */
export function transfer(progress: Progress, action: Pick<StepAction, "desk" | "by" | "at" | "reason" | "delegate"> & { readonly to: string }): Progress {
  const { index, step } = requireCurrent(progress);
  if (step.type === "SEAL") throw new CircuitError("state", "the seal is applied by the platform: it cannot be transferred");
  requireDesk(step, action.desk ?? "");
  if (step.desks.includes(action.to)) throw new CircuitError("state", `desk ${action.to} already has a say at this step`);
  const desks = step.desks.map((d) => (d === action.desk ? action.to : d));
  return replaced(progress, index, { ...step, desks, actions: [...step.actions, { ...action, kind: "transfer" }] });
}

/**
 * A desk asks another desk's opinion before it acts (iParapheur's second opinion): a visa of that
 * desk comes first; then the folder is back with the desk that asked.
 */
export function askSecondOpinion(progress: Progress, action: Pick<StepAction, "desk" | "by" | "at" | "reason" | "delegate"> & { readonly to: string }): Progress {
  const { index, step } = requireCurrent(progress);
  if (step.type === "SEAL") throw new CircuitError("state", "the seal is applied by the platform: no opinion is asked for it");
  requireDesk(step, action.desk ?? "");
  if (action.to === action.desk) throw new CircuitError("state", "a desk cannot ask its own opinion");
  const asked: Step = { type: "VISA", desks: [action.to], quorum: 1, state: "CURRENT", actions: [], secondOpinionFor: action.desk! };
  const waiting: Step = { ...step, state: "UPCOMING", actions: [...step.actions, { ...action, kind: "second-opinion" }] };
  return { state: progress.state, steps: [...progress.steps.slice(0, index), asked, waiting, ...progress.steps.slice(index + 1)] };
}

/** The rejection that ended the folder, if it was rejected. */
export function rejectionOf(progress: Progress): StepAction | undefined {
  if (progress.state !== "REJECTED") return undefined;
  return progress.steps.find((step) => step.state === "REJECTED")?.actions.filter((a) => a.kind === "rejection").at(-1);
}

/**
 * Where a folder stands for one desk, with iParapheur's names: CURRENT (waiting for it), LATE
 * (waiting, past its due date), UPCOMING (it will come), DOWNSTREAM (it went past and goes on),
 * VALIDATED (it acted), SECONDED (it asked an opinion, which is awaited), TRANSFERRED (it handed
 * its part to another desk), BYPASSED, REJECTED, FINISHED; undefined for a desk the circuit does not name.
 */
export function stateFor(progress: Progress, desk: string, late: boolean): string | undefined {
  const steps = progress.steps.map((step, index) => ({ step, index })).filter(({ step }) => step.desks.includes(desk));
  const transferred = progress.steps.some((step) => step.actions.some((a) => a.kind === "transfer" && a.desk === desk));
  if (steps.length === 0) return transferred ? "TRANSFERRED" : undefined;
  if (progress.state === "REJECTED" || progress.state === "FINISHED") return progress.state;
  const now = current(progress);
  if (!now) return progress.state;
  if (now.step.secondOpinionFor === desk) return "SECONDED";
  if (now.step.desks.includes(desk) && !decided(now.step, desk)) return late ? "LATE" : "CURRENT";
  if (steps.some(({ index }) => index > now.index)) return "UPCOMING";
  return steps.some(({ step }) => step.actions.some((a) => a.desk === desk)) ? (now.step.desks.includes(desk) ? "VALIDATED" : "DOWNSTREAM") : "BYPASSED";
}
