import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { KubeClient } from "../kube/client.ts";
import { KubeApiError } from "../kube/errors.ts";
import { resourceTypes } from "../kube/resources.ts";
import { Applier, containsDesired, desiredHash, type ChildCache } from "./apply.ts";
import type { EventKind } from "./informer.ts";

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

describe("Applier", () => {
  type Call = [verb: string, name: string];
  const type = resourceTypes.ConfigMap;
  const desired = (value: string): KubernetesObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "n" }, data: { value } } as KubernetesObject);

  /** A cache of metadata only, and an API server that answers what it is told: the decision table is pure logic. */
  function fixture() {
    const calls: Call[] = [];
    let stored: KubernetesObject | undefined;
    let version = 1;
    const handlers: ((kind: EventKind, object: KubernetesObject) => void)[] = [];
    const metadataOf = (o: KubernetesObject): KubernetesObject => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: { ...o.metadata } });
    const cache: ChildCache & { object?: KubernetesObject } = {
      type,
      get: () => cache.object,
      on: (handler) => handlers.push(handler),
    };
    const client = {
      get: async () => {
        calls.push(["GET", "c"]);
        if (!stored) throw new KubeApiError(404, "NotFound", "not found");
        return stored;
      },
      apply: async (object: KubernetesObject) => {
        calls.push(["PATCH", "c"]);
        stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(++version) } };
        return stored;
      },
    } as unknown as KubeClient;
    return {
      calls,
      cache,
      client,
      /** The watch catches up: the cache holds the stored object's metadata. */
      watch: () => (cache.object = stored && metadataOf(stored)),
      /** Someone else changes the object: a new version, the operator's hash still on it. */
      editByHand: (value: string) => {
        stored = { ...stored!, metadata: { ...stored!.metadata, resourceVersion: String(++version) }, data: { value } } as KubernetesObject;
      },
      delete: () => {
        const gone = cache.object!;
        stored = cache.object = undefined;
        for (const handler of handlers) handler("delete", gone);
      },
    };
  }

  it.each([
    ["nothing is cached yet", (f: ReturnType<typeof fixture>) => void f, [["PATCH", "c"]], "applied"],
    ["the cache holds what the operator applied", (f: ReturnType<typeof fixture>, a: Applier) => a.sync(desired("one")).then(f.watch), [], "unchanged"],
    [
      "another process (a restart) finds the object in place",
      async (f: ReturnType<typeof fixture>) => {
        await new Applier(f.client, "test", [f.cache]).sync(desired("one"));
        f.watch();
      },
      [["GET", "c"]],
      "unchanged",
    ],
    [
      "someone else edited the object",
      async (f: ReturnType<typeof fixture>, a: Applier) => {
        await a.sync(desired("one"));
        f.editByHand("changed by hand");
        f.watch();
      },
      [["GET", "c"], ["PATCH", "c"]],
      "applied",
    ],
    [
      "the operator wants something else",
      async (f: ReturnType<typeof fixture>, a: Applier) => {
        await a.sync(desired("zero"));
        f.watch();
      },
      [["PATCH", "c"]],
      "applied",
    ],
    [
      "the object was deleted and the cache knows",
      async (f: ReturnType<typeof fixture>, a: Applier) => {
        await a.sync(desired("one"));
        f.watch();
        f.delete();
      },
      [["PATCH", "c"]],
      "applied",
    ],
  ] as const)("when %s, then syncing it calls %j", async (_when, arrange, expected, outcome) => {
    const f = fixture();
    const applier = new Applier(f.client, "test", [f.cache]);
    await arrange(f, applier);
    f.calls.length = 0;
    expect(await applier.sync(desired("one"))).toBe(outcome);
    expect(f.calls).toEqual(expected);
  });

  it("when a desired object is rendered again with its keys in another order, then its hash is the same", () => {
    const a = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", labels: { x: "1", y: "2" } }, data: { b: "2", a: "1" } };
    const b = { kind: "ConfigMap", data: { a: "1", b: "2" }, metadata: { labels: { y: "2", x: "1" }, name: "c" }, apiVersion: "v1" };
    expect(desiredHash(a)).toBe(desiredHash(b));
    expect(desiredHash({ ...a, data: { a: "1", b: "3" } } as KubernetesObject)).not.toBe(desiredHash(a));
  });
});
