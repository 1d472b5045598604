import type { Caller } from "@mutualis/service-kit";
import { describe, expect, it } from "vitest";
import { listedFor, mayManage, ownerOf, owns } from "./access.ts";

const agent = (subject: string, roles: string[] = ["agent"]): Caller => ({ kind: "user", subject, email: `${subject}@mairie.example`, memberships: { rennes: roles as never } });
const operator: Caller = { kind: "client", client: "mutualis-operator" };

describe("who manages a share", () => {
  const byAlice = { owner: ownerOf(agent("alice")) };
  const byOperator = { owner: ownerOf(operator) };
  const unowned = {};
  it.each([
    ["its maker", byAlice, agent("alice"), true],
    ["a colleague", byAlice, agent("bob"), false],
    ["an administrator of the collectivity", byAlice, agent("carol", ["administrateur"]), true],
    ["an administrator of another collectivity", byAlice, { kind: "user", subject: "dave", email: "d@x.example", memberships: { brest: ["administrateur"] } } as Caller, false],
    ["the operator, for a share it made", byOperator, operator, true],
    ["the operator, for an agent's share", byAlice, operator, false],
    ["an agent, for the operator's share", byOperator, agent("alice"), false],
    ["an agent, for a share with no owner", unowned, agent("alice"), false],
    ["an administrator, for a share with no owner", unowned, agent("carol", ["administrateur"]), true],
  ] as const)("%s: %s", (_who, share, caller, expected) => {
    expect(mayManage(share, caller, "rennes")).toBe(expected);
  });

  it("a person's ownership is their subject, not their address, which may change hands", () => {
    expect(owns({ owner: { subject: "other", email: "alice@mairie.example" } }, agent("alice"))).toBe(false);
  });

  it("an agent lists their own shares, an administrator all of them", () => {
    expect(listedFor(agent("alice"), "rennes")).toEqual({ "owner.subject": "alice" });
    expect(listedFor(operator, "rennes")).toEqual({ "owner.client": "mutualis-operator" });
    expect(listedFor(agent("carol", ["administrateur"]), "rennes")).toEqual({});
  });
});
