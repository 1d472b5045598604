import { z } from "zod";
import type { EndpointSpec } from "./nats.ts";

/** A subject a service publishes on (its events, what it tells another service), with what it carries. */
export interface EmittedSubject {
  readonly subject: string;
  readonly description: string;
  readonly schema: z.ZodType;
}

/** A subject's wildcards as AsyncAPI parameters: `tenant.*.flows.x` → `tenant.{collectivity}.flows.x`. */
function address(subject: string): { address: string; parameters: Record<string, { description: string }> } {
  const parameters: Record<string, { description: string }> = {};
  let n = 0;
  const parts = subject.split(".").map((part, index, all) => {
    if (part !== "*") return part;
    // The collectivity is the second token of tenant and platform-to-service subjects.
    const name = index === 1 || (index === all.length - 1 && all[0] === "flows") ? "collectivity" : `token${++n}`;
    parameters[name] = { description: name === "collectivity" ? "the collectivity's name" : "any token" };
    return `{${name}}`;
  });
  return { address: parts.join("."), parameters };
}

const jsonSchema = (schema: z.ZodType | undefined) => (schema ? z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) : {});
const channelId = (subject: string) => subject.replaceAll("*", "_").replaceAll(".", "-");

/**
 * The service's contract as AsyncAPI 3.0: a channel per subject it serves (a request it receives
 * and the answer it sends back, each with its JSON Schema, generated from the code's zod schemas)
 * and per subject it emits. Served on its internal port (`/asyncapi.json`).
 */
export function asyncApiDocument(service: { readonly name: string; readonly version: string; readonly description?: string }, endpoints: readonly EndpointSpec[], emits: readonly EmittedSubject[] = []) {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  for (const endpoint of endpoints) {
    const id = channelId(endpoint.subject);
    const { address: at, parameters } = address(endpoint.subject);
    channels[id] = {
      address: at,
      ...(Object.keys(parameters).length ? { parameters } : {}),
      messages: { request: { name: `${endpoint.name}-request`, payload: jsonSchema(endpoint.schema) } },
    };
    channels[`${id}-reply`] = { address: null, messages: { answer: { name: `${endpoint.name}-answer`, payload: jsonSchema(endpoint.answer) } } };
    operations[endpoint.name] = {
      action: "receive",
      channel: { $ref: `#/channels/${id}` },
      summary: `who may call: ${JSON.stringify(endpoint.callers)}`,
      reply: { channel: { $ref: `#/channels/${id}-reply` } },
    };
  }
  for (const emitted of emits) {
    const id = channelId(emitted.subject);
    const { address: at, parameters } = address(emitted.subject);
    channels[id] = { address: at, ...(Object.keys(parameters).length ? { parameters } : {}), messages: { message: { name: id, payload: jsonSchema(emitted.schema) } } };
    operations[`emit-${id}`] = { action: "send", channel: { $ref: `#/channels/${id}` }, summary: emitted.description };
  }
  return {
    asyncapi: "3.0.0",
    info: { title: `Mutualis ${service.name}`, version: service.version, ...(service.description ? { description: service.description } : {}) },
    defaultContentType: "application/json",
    channels,
    operations,
  };
}

/** An answer outside the endpoint's contract: what is wrong in it, by path. */
export function contractBreaches(endpoint: EndpointSpec, answer: unknown): string[] | undefined {
  if (!endpoint.answer) return undefined;
  const checked = endpoint.answer.safeParse(answer);
  return checked.success ? undefined : checked.error.issues.map((issue) => `${issue.path.join(".") || "answer"}: ${issue.message}`);
}

/**
 * What a service tells the flows of a step it ran (`flows.signal.<collectivity>`): done (a
 * folder finished, an act acknowledged — with its @ctes identifier and day), or rejected, with why.
 */
export const flowSignal = z.object({
  document: z.string(),
  step: z.number().int().min(0),
  outcome: z.enum(["done", "rejected"]),
  ref: z.string().optional(),
  reason: z.string().max(2000).optional(),
  identifier: z.string().max(100).optional(),
  acknowledgedOn: z.iso.date().optional(),
});
