import { describe, expect, it } from "vitest";
import { containsDesired } from "./apply.ts";

describe("containsDesired", () => {
  it("when the actual object has extra fields, then it still contains the desired ones", () => {
    expect(containsDesired({ metadata: { labels: { a: "1" } } }, { metadata: { labels: { a: "1", b: "2" }, uid: "x" } })).toBe(true);
  });

  it("when a desired value differs, then it does not", () => {
    expect(containsDesired({ spec: { hard: { pods: "20" } } }, { spec: { hard: { pods: "30" } } })).toBe(false);
  });

  it("when a desired list is shorter or longer, then it does not (the operator owns the whole list)", () => {
    expect(containsDesired({ subjects: [{ name: "a" }] }, { subjects: [{ name: "a" }, { name: "b" }] })).toBe(false);
  });

  it("when the desired list is empty and the actual one absent, then it matches", () => {
    expect(containsDesired({ subjects: [] }, {})).toBe(true);
  });

  it("when a desired field is missing from the actual object, then it does not", () => {
    expect(containsDesired({ data: { creds: "x" } }, { data: {} })).toBe(false);
  });
});
