import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { KubeClient, ObjectList, WatchEvent } from "../kube/client.ts";
import { KubeApiError } from "../kube/errors.ts";
import { resourceTypes } from "../kube/resources.ts";
import { Informer, type EventKind } from "./informer.ts";
import { createLogger } from "./log.ts";

const ns = (name: string, resourceVersion: string): KubernetesObject => ({ metadata: { name, resourceVersion } });

/**
 * A scripted stand-in for the API server: the informer's list/watch protocol is pure logic; the
 * same informers run against the real API server in tests/operator.
 */
class ScriptedServer {
  lists: ObjectList<KubernetesObject>[] = [];
  watches: ((onEvent: (e: WatchEvent<KubernetesObject>) => void) => Promise<void>)[] = [];
  listCalls = 0;
  watchedFrom: string[] = [];

  client(): KubeClient {
    return {
      list: async () => {
        this.listCalls++;
        return this.lists.shift() ?? { metadata: { resourceVersion: "999" }, items: [] };
      },
      watch: async (_type: unknown, resourceVersion: string, onEvent: (e: WatchEvent<KubernetesObject>) => void, signal: AbortSignal) => {
        this.watchedFrom.push(resourceVersion);
        const next = this.watches.shift();
        if (next) return next(onEvent);
        if (!signal.aborted) await new Promise<void>((r) => signal.addEventListener("abort", () => r()));
      },
    } as unknown as KubeClient;
  }
}

describe("Informer", () => {
  it("when the watch answers 410 Gone, then it lists again, and reports what changed meanwhile", async () => {
    const server = new ScriptedServer();
    server.lists.push({ metadata: { resourceVersion: "10" }, items: [ns("a", "5"), ns("b", "6")] });
    server.watches.push(async (emit) => {
      emit({ type: "MODIFIED", object: ns("a", "11") });
      throw new KubeApiError(410, "Expired", "too old resource version");
    });
    server.lists.push({ metadata: { resourceVersion: "20" }, items: [ns("a", "11"), ns("c", "19")] });

    const informer = new Informer(server.client(), resourceTypes.Namespace, createLogger("test", "silent"));
    const seen: [EventKind, string, string][] = [];
    informer.on((kind, object) => seen.push([kind, object.metadata!.name!, object.metadata!.resourceVersion!]));
    informer.start();
    await informer.waitForSync();
    await new Promise((r) => setTimeout(r, 50));
    await informer.stop();

    expect(server.listCalls).toBe(2);
    expect(server.watchedFrom).toEqual(["10", "20"]);
    expect(seen).toEqual([
      ["add", "a", "5"],
      ["add", "b", "6"],
      ["update", "a", "11"],
      ["add", "c", "19"],
      ["delete", "b", "6"],
    ]);
    expect(informer.list().map((o) => o.metadata!.name).sort()).toEqual(["a", "c"]);
  });

  it("when a watch event repeats a resourceVersion already cached, then no update is reported", async () => {
    const server = new ScriptedServer();
    server.lists.push({ metadata: { resourceVersion: "10" }, items: [ns("a", "5")] });
    server.watches.push(async (emit) => {
      emit({ type: "MODIFIED", object: ns("a", "5") });
      emit({ type: "BOOKMARK", object: ns("", "15") });
    });
    const informer = new Informer(server.client(), resourceTypes.Namespace, createLogger("test", "silent"));
    const kinds: EventKind[] = [];
    informer.on((kind) => kinds.push(kind));
    informer.start();
    await new Promise((r) => setTimeout(r, 50));
    await informer.stop();
    expect(kinds).toEqual(["add"]);
    // After the watch ended normally, it resumed from the bookmark's resourceVersion.
    expect(server.watchedFrom).toEqual(["10", "15"]);
  });

  it("when objects carry managedFields or kubectl's last-applied copy, then the cache keeps them without", async () => {
    const server = new ScriptedServer();
    const lastApplied = { "kubectl.kubernetes.io/last-applied-configuration": "{...the whole object...}" };
    server.lists.push({
      metadata: { resourceVersion: "1" },
      items: [
        { metadata: { name: "a", resourceVersion: "1", managedFields: [{ manager: "x" }] } },
        { metadata: { name: "b", resourceVersion: "1", annotations: { ...lastApplied, "mutualis.fr/rotate": "1" } } },
        { metadata: { name: "c", resourceVersion: "1", annotations: lastApplied } },
      ],
    });
    const informer = new Informer(server.client(), resourceTypes.Namespace, createLogger("test", "silent"));
    informer.start();
    await informer.waitForSync();
    await informer.stop();
    expect(informer.get("a")?.metadata).toEqual({ name: "a", resourceVersion: "1" });
    expect(informer.get("b")?.metadata).toEqual({ name: "b", resourceVersion: "1", annotations: { "mutualis.fr/rotate": "1" } });
    expect(informer.get("c")?.metadata).toEqual({ name: "c", resourceVersion: "1", annotations: {} });
  });

  it("when it caches metadata only, then it keeps who the object is, its labels, annotations and owners, under the kind's own name", async () => {
    const server = new ScriptedServer();
    const partial = {
      apiVersion: "meta.k8s.io/v1",
      kind: "PartialObjectMetadata",
      metadata: {
        name: "s",
        namespace: "n",
        uid: "u",
        resourceVersion: "7",
        creationTimestamp: "2026-11-30T00:00:00Z",
        labels: { "mutualis.fr/collectivity": "c" },
        annotations: { "mutualis.fr/desired-hash": "h", "kubectl.kubernetes.io/last-applied-configuration": "{...the whole object...}" },
        ownerReferences: [{ apiVersion: "mutualis.fr/v1alpha1", kind: "Collectivity", name: "c", uid: "o", controller: true }],
        managedFields: [{ manager: "x" }],
      },
    };
    server.lists.push({ metadata: { resourceVersion: "7" }, items: [partial as unknown as KubernetesObject] });
    const informer = new Informer(server.client(), resourceTypes.Secret, createLogger("test", "silent"), { metadataOnly: true });
    informer.start();
    await informer.waitForSync();
    await informer.stop();
    expect(informer.get("s", "n")).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "s",
        namespace: "n",
        uid: "u",
        resourceVersion: "7",
        labels: { "mutualis.fr/collectivity": "c" },
        annotations: { "mutualis.fr/desired-hash": "h" },
        ownerReferences: [{ apiVersion: "mutualis.fr/v1alpha1", kind: "Collectivity", name: "c", uid: "o", controller: true }],
      },
    });
  });
});
