import { describe, expect, it } from "vitest";
import { approve, askSecondOpinion, begin, bypass, circuitDefinition, CircuitError, current, reject, rejectionOf, stateFor, transfer } from "./circuit.ts";
import { standingFor, type Desk } from "./desks.ts";

const at = new Date("2026-12-01T10:00:00Z");
const circuit = circuitDefinition.parse([
  { type: "VISA", desks: ["dgs"] },
  { type: "SIGNATURE", desks: ["vp-finances", "vp-culture", "vp-sports"], quorum: 2 },
  { type: "SIGNATURE", desks: ["maire"] },
  { type: "SEAL" },
]);

describe("a circuit of visas, signatures with a quorum and the seal", () => {
  it("when each step is approved in turn, then the quorum step needs two of its three desks and the folder finishes after the seal", () => {
    let progress = begin(circuit);
    expect(current(progress)?.index).toBe(0);
    progress = approve(progress, { kind: "visa", desk: "dgs", by: "dgs@x.fr", at });
    progress = approve(progress, { kind: "signature", desk: "vp-culture", by: "c@x.fr", at });
    expect(current(progress)?.index).toBe(1);
    expect(stateFor(progress, "vp-culture", false)).toBe("VALIDATED");
    expect(stateFor(progress, "vp-sports", false)).toBe("CURRENT");
    expect(stateFor(progress, "maire", false)).toBe("UPCOMING");
    expect(stateFor(progress, "dgs", false)).toBe("DOWNSTREAM");
    progress = approve(progress, { kind: "signature", desk: "vp-finances", by: "f@x.fr", at });
    expect(progress.steps[1]!.state).toBe("VALIDATED");
    progress = approve(progress, { kind: "signature", desk: "maire", by: "m@x.fr", at });
    expect(current(progress)?.step.type).toBe("SEAL");
    progress = approve(progress, { kind: "seal", by: "plateforme", at });
    expect(progress.state).toBe("FINISHED");
    expect(stateFor(progress, "maire", false)).toBe("FINISHED");
  });

  it("when one of three rejects, then the quorum of two can still be reached; when a second rejects, it is missed and the folder is rejected with its reason", () => {
    let progress = approve(begin(circuit), { kind: "visa", desk: "dgs", by: "dgs@x.fr", at });
    progress = reject(progress, { desk: "vp-sports", by: "s@x.fr", at, reason: "budget" });
    expect(progress.state).toBe("PENDING");
    progress = reject(progress, { desk: "vp-culture", by: "c@x.fr", at, reason: "pas d'accord" });
    expect(progress.state).toBe("REJECTED");
    expect(progress.steps[1]!.state).toBe("REJECTED");
    expect(rejectionOf(progress)?.reason).toBe("pas d'accord");
    expect(() => approve(progress, { kind: "signature", desk: "vp-finances", by: "f@x.fr", at })).toThrow(/rejected/);
  });

  it("when a desk acts twice, out of its step, or with the wrong action, then it is refused and nothing changes", () => {
    const progress = begin(circuit);
    expect(() => approve(progress, { kind: "signature", desk: "dgs", by: "dgs@x.fr", at })).toThrow(/needs a visa/);
    expect(() => approve(progress, { kind: "visa", desk: "maire", by: "m@x.fr", at })).toThrow(new CircuitError("desk", "desk maire has no say at this step"));
    const next = approve(approve(progress, { kind: "visa", desk: "dgs", by: "dgs@x.fr", at }), { kind: "signature", desk: "vp-culture", by: "c@x.fr", at });
    expect(() => approve(next, { kind: "signature", desk: "vp-culture", by: "c@x.fr", at })).toThrow(/already acted/);
    expect(() => reject(next, { desk: "vp-sports", by: "s@x.fr", at, reason: " " })).toThrow(/reason/);
    expect(progress.steps[0]!.actions).toEqual([]);
  });

  it("when a desk asks another's opinion, then that desk visas first and the folder comes back to it (SECONDED meanwhile); a transfer hands its part to another desk (TRANSFERRED)", () => {
    let progress = askSecondOpinion(begin(circuit), { desk: "dgs", by: "dgs@x.fr", at, to: "juridique", reason: "Avis sur la légalité" });
    expect(progress.steps.map((s) => [s.type, s.desks.join(","), s.state])).toEqual([["VISA", "juridique", "CURRENT"], ["VISA", "dgs", "UPCOMING"], ["SIGNATURE", "vp-finances,vp-culture,vp-sports", "UPCOMING"], ["SIGNATURE", "maire", "UPCOMING"], ["SEAL", "", "UPCOMING"]]);
    expect(stateFor(progress, "dgs", false)).toBe("SECONDED");
    progress = approve(progress, { kind: "visa", desk: "juridique", by: "j@x.fr", at });
    expect(stateFor(progress, "dgs", false)).toBe("CURRENT");
    progress = approve(progress, { kind: "visa", desk: "dgs", by: "dgs@x.fr", at });
    progress = transfer(progress, { desk: "vp-sports", by: "s@x.fr", at, to: "vp-jeunesse" });
    expect(progress.steps[2]!.desks).toEqual(["vp-finances", "vp-culture", "vp-jeunesse"]);
    expect(stateFor(progress, "vp-sports", false)).toBe("TRANSFERRED");
    expect(stateFor(progress, "vp-jeunesse", false)).toBe("CURRENT");
    expect(() => transfer(progress, { desk: "vp-culture", by: "c@x.fr", at, to: "vp-finances" })).toThrow(/already has a say/);
  });

  it("when an administrator passes a step over, then it is BYPASSED with the reason and the next is current", () => {
    const progress = bypass(begin(circuit), { by: "admin@x.fr", at, reason: "DGS absent" });
    expect(progress.steps[0]).toMatchObject({ state: "BYPASSED", actions: [{ kind: "bypass", reason: "DGS absent" }] });
    expect(current(progress)?.index).toBe(1);
  });

  it("when a circuit names a desk twice in a step or a quorum above its desks, then it is refused with the reason", () => {
    const bad = circuitDefinition.safeParse([{ type: "SIGNATURE", desks: ["a", "a"] }, { type: "VISA", desks: ["b"], quorum: 2 }]);
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.message)).toEqual(["a desk is named twice in this step", "the quorum (2) is more than the step's desks (1)"]);
    expect(circuitDefinition.safeParse([]).success).toBe(false);
  });
});

describe("delegations", () => {
  const desks: Desk[] = [
    { collectivity: "rennes", id: "maire", name: "Maire", owners: ["maire@x.fr"], secretaries: [], delegations: [{ to: "adjoint", from: new Date("2026-12-01T00:00:00Z"), until: new Date("2026-12-08T00:00:00Z") }] },
    { collectivity: "rennes", id: "adjoint", name: "Premier adjoint", owners: ["adjoint@x.fr"], secretaries: [], delegations: [] },
  ];
  it("when the delegate acts within the delegation's dates, then they act for the desk as its delegate; outside them, they are refused with the dates", () => {
    expect(standingFor(desks, "maire@x.fr", ["maire"], at)).toEqual({ desk: "maire" });
    expect(standingFor(desks, "Adjoint@x.fr", ["maire"], at)).toEqual({ desk: "maire", delegate: "adjoint" });
    const after = standingFor(desks, "adjoint@x.fr", ["maire"], new Date("2026-12-09T00:00:00Z"));
    expect(after).toEqual({ refused: expect.stringMatching(/desk maire's delegation to desk adjoint runs from 01\/12\/2026 01:00 to 08\/12\/2026 01:00: it is not in force now/) });
    expect(standingFor(desks, "autre@x.fr", ["maire"], at)).toEqual({ refused: expect.stringMatching(/you own none of the desks/) });
  });
});
