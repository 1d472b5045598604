import { Conflict } from "@mutualis/service-kit";
import { describe, expect, it } from "vitest";
import { isFinal, nextStatus, type ActEvent, type ActStatus } from "./statuses.ts";

function run(events: ActEvent["type"][]): ActStatus {
  return events.reduce<ActStatus>((status, type) => nextStatus(status, { type } as ActEvent), "posted");
}

describe("the life of a transmitted act", () => {
  it("when it is queued, sent and acknowledged, then it is acknowledged", () => {
    expect(run(["queued", "sent", "acknowledged"])).toBe("acknowledged");
  });

  it("when an acknowledged act is cancelled and the prefecture confirms, then it is cancelled, for good", () => {
    expect(run(["queued", "sent", "acknowledged", "cancellationRequested", "cancellationAcknowledged"])).toBe("cancelled");
    expect(isFinal("cancelled")).toBe(true);
  });

  it("when transmission fails, then it can be queued again", () => {
    expect(run(["queued", "failed", "queued", "sent"])).toBe("transmitted");
  });

  it("when a refused act is acknowledged (a duplicate message), then the event is refused as a conflict", () => {
    expect(() => run(["queued", "sent", "refused", "acknowledged"])).toThrow(Conflict);
    expect(() => run(["queued", "sent", "refused", "acknowledged"])).toThrow('an act that is refusé cannot take the event "acknowledged"');
  });

  it("when cancellation is asked before the acknowledgement, then it is refused", () => {
    expect(() => run(["queued", "cancellationRequested"])).toThrow(Conflict);
  });
});
