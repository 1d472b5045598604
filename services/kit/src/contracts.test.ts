import { describe, expect, it } from "vitest";
import { z } from "zod";
import { allow } from "./callers.ts";
import { asyncApiDocument, contractBreaches } from "./contracts.ts";
import type { EndpointSpec } from "./nats.ts";

const endpoint: EndpointSpec = {
  name: "documents-get",
  subject: "tenant.*.flows.documents.get",
  schema: z.object({ id: z.uuid() }),
  answer: z.object({ id: z.uuid(), state: z.enum(["running", "done"]) }).strict(),
  callers: allow.members(),
  handle: async () => ({}),
};

describe("a service's published contract", () => {
  it("when the contract is written, then each subject it serves is a channel with its request and its answer, the collectivity a parameter", () => {
    const document = asyncApiDocument({ name: "flows", version: "0.1.0" }, [endpoint], [{ subject: "flows.signal.*", description: "told", schema: z.object({ step: z.number() }) }]) as {
      asyncapi: string;
      channels: Record<string, { address: string | null; parameters?: Record<string, unknown>; messages: Record<string, { payload: { properties?: Record<string, unknown> } }> }>;
      operations: Record<string, { action: string }>;
    };
    expect(document.asyncapi).toBe("3.0.0");
    const served = document.channels["tenant-_-flows-documents-get"]!;
    expect(served.address).toBe("tenant.{collectivity}.flows.documents.get");
    expect(Object.keys(served.parameters!)).toEqual(["collectivity"]);
    expect(Object.keys(served.messages.request!.payload.properties!)).toEqual(["id"]);
    expect(Object.keys(document.channels["tenant-_-flows-documents-get-reply"]!.messages.answer!.payload.properties!)).toEqual(["id", "state"]);
    expect(document.channels["flows-signal-_"]!.address).toBe("flows.signal.{collectivity}");
    expect(document.operations["documents-get"]!.action).toBe("receive");
    expect(document.operations["emit-flows-signal-_"]!.action).toBe("send");
  });

  it("when an answer is outside the contract, then what is wrong is named; an answer within it passes", () => {
    expect(contractBreaches(endpoint, { id: "0b8f2e4c-4d3a-4f6e-9a1b-2c3d4e5f6a7b", state: "running" })).toBeUndefined();
    expect(contractBreaches(endpoint, { id: "x", state: "lost", extra: 1 })).toEqual([expect.stringMatching(/^id: /), expect.stringMatching(/^state: /), expect.stringMatching(/^answer: .*extra/)]);
  });
});
