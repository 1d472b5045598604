import { describe, expect, it } from "vitest";
import { eventSubject, parseEventSubject } from "./events.ts";

describe("business events' subjects", () => {
  it("when an event's subject is made, then it reads back as its collectivity, service and event; other subjects are not events", () => {
    expect(eventSubject("rennes", "actes", "submitted")).toBe("events.rennes.actes.submitted");
    expect(parseEventSubject("events.rennes.actes.submitted")).toEqual({ collectivity: "rennes", service: "actes", event: "submitted" });
    expect(parseEventSubject("events.rennes.actes")).toBeUndefined();
    expect(parseEventSubject("events.rennes.actes.submitted.extra")).toBeUndefined();
    expect(parseEventSubject("tenant.rennes.actes.submitted")).toBeUndefined();
  });
});
