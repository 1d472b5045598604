import { describe, expect, it } from "vitest";
import { setCondition } from "./conditions.ts";

const t0 = new Date("2026-11-28T10:00:00.123Z");
const t1 = new Date("2026-11-28T11:00:00Z");

describe("setCondition", () => {
  it("when a condition is new, then it is added with the current time and generation", () => {
    expect(setCondition([], { type: "Ready", status: "True", reason: "Ready", message: "ok" }, 3, t0)).toEqual([
      { type: "Ready", status: "True", reason: "Ready", message: "ok", observedGeneration: 3, lastTransitionTime: "2026-11-28T10:00:00Z" },
    ]);
  });

  it("when the status does not change, then the transition time is kept even if the message changes", () => {
    const first = setCondition([], { type: "Ready", status: "False", reason: "Progressing", message: "a" }, 1, t0);
    const second = setCondition(first, { type: "Ready", status: "False", reason: "QuotaInvalid", message: "b" }, 2, t1);
    expect(second[0]).toMatchObject({ lastTransitionTime: "2026-11-28T10:00:00Z", reason: "QuotaInvalid", observedGeneration: 2 });
  });

  it("when the status changes, then the transition time moves", () => {
    const first = setCondition([], { type: "Ready", status: "False", reason: "Progressing", message: "a" }, 1, t0);
    expect(setCondition(first, { type: "Ready", status: "True", reason: "Ready", message: "b" }, 1, t1)[0]?.lastTransitionTime).toBe("2026-11-28T11:00:00Z");
  });

  it("when other conditions exist, then they are kept in place", () => {
    const list = setCondition(setCondition([], { type: "A", status: "True", reason: "R", message: "" }, 1, t0), { type: "B", status: "True", reason: "R", message: "" }, 1, t0);
    expect(setCondition(list, { type: "A", status: "False", reason: "R", message: "" }, 1, t1).map((c) => c.type)).toEqual(["A", "B"]);
  });
});
