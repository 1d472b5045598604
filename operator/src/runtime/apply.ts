import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { isNotFound } from "../kube/errors.ts";
import { resourceTypeOf, type ResourceType } from "../kube/resources.ts";
import type { EventKind } from "./informer.ts";

/**
 * True when every field of `desired` has the same value in `actual`. Fields the API server or
 * others add are ignored; lists must match in length (the operator owns them whole); an empty
 * list or map in `desired` matches an absent one, as the API server drops empty values.
 */
export function containsDesired(desired: unknown, actual: unknown): boolean {
  if (Array.isArray(desired)) {
    if (actual === undefined && desired.length === 0) return true;
    if (!Array.isArray(actual) || actual.length !== desired.length) return false;
    return desired.every((item, i) => containsDesired(item, actual[i]));
  }
  if (desired !== null && typeof desired === "object") {
    if (actual === undefined && Object.keys(desired).length === 0) return true;
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return false;
    return Object.entries(desired).every(([key, value]) => containsDesired(value, (actual as Record<string, unknown>)[key]));
  }
  return desired === actual;
}

/** On every object the operator applies: a hash of what it applied, to tell a change of its own. */
export const desiredHashAnnotation = "mutualis.fr/desired-hash";

/** JSON with every object's keys in order: the same object always gives the same text. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A short, stable digest of a desired object (its hash annotation left out). */
export function desiredHash(desired: KubernetesObject): string {
  return createHash("sha256").update(stableJson(desired)).digest("base64url").slice(0, 22);
}

/** The caches the operator reads its children from (full or metadata-only), one per kind. */
export interface ChildCache {
  readonly type: ResourceType;
  get(name: string, namespace?: string): KubernetesObject | undefined;
  on(handler: (kind: EventKind, object: KubernetesObject) => void): void;
}

const keyOf = (apiVersion: string, kind: string, name: string, namespace?: string) => `${apiVersion}/${kind}/${namespace ?? ""}/${name}`;

/**
 * Server-side apply that first compares with the informer cache: an object that already holds
 * what the operator wants is not written, so a converged operator sends no writes at all.
 *
 * Against a full cache the comparison is direct. Most children are cached as metadata only (a
 * few hundred bytes each rather than the whole object), so the operator writes the hash of what
 * it applies in an annotation, and remembers which cached version of each object it saw hold
 * exactly that: the same hash on that version needs nothing. Another version (changed by
 * someone else, or first seen by this process) is read whole once and compared, so a hand edit
 * is still put back and a restart writes nothing that is in place.
 */
export class Applier {
  /**
   * The cached objects (each one version of an object) seen to hold the desired state. Weak:
   * a new version replaces the cached object, and with it what was known of the old one.
   */
  private readonly verified = new WeakSet<KubernetesObject>();
  /** Applied, the cache not caught up yet: the version the apply answered, until the watch brings it. */
  private readonly applied = new Map<string, string>();
  private readonly caches = new Map<string, ChildCache>();

  constructor(
    private readonly client: KubeClient,
    private readonly fieldManager: string,
    caches: readonly ChildCache[],
  ) {
    for (const cache of caches) {
      this.caches.set(`${cache.type.apiVersion}/${cache.type.kind}`, cache);
      cache.on((kind, object) => {
        const m = object.metadata ?? {};
        const key = keyOf(cache.type.apiVersion, cache.type.kind, m.name ?? "", m.namespace);
        const version = this.applied.get(key);
        if (version === undefined) return;
        // Any news of the object ends the wait (so the map stays small): the version applied is
        // known whole; an older one still in flight only costs a read at the next sync.
        this.applied.delete(key);
        if (kind !== "delete" && m.resourceVersion === version) this.verified.add(object);
      });
    }
  }

  private cached(desired: KubernetesObject): KubernetesObject | undefined {
    return this.caches.get(`${desired.apiVersion}/${desired.kind}`)?.get(desired.metadata!.name!, desired.metadata!.namespace);
  }

  async sync<T extends KubernetesObject>(desired: T): Promise<"unchanged" | "applied"> {
    const meta = desired.metadata!;
    const hash = desiredHash(desired);
    const object = { ...desired, metadata: { ...meta, annotations: { ...meta.annotations, [desiredHashAnnotation]: hash } } } as T;
    const cached = this.cached(desired);
    if (cached && (this.verified.has(cached) ? cached.metadata?.annotations?.[desiredHashAnnotation] === hash : containsDesired(object, cached))) return "unchanged";
    const key = keyOf(desired.apiVersion!, desired.kind!, meta.name!, meta.namespace);
    if (cached?.metadata?.resourceVersion && cached.metadata.annotations?.[desiredHashAnnotation] === hash) {
      if (this.applied.get(key) === cached.metadata.resourceVersion) {
        this.verified.add(cached);
        this.applied.delete(key);
        return "unchanged";
      }
      // Changed since the operator last saw it whole (by someone else, or before this process
      // started): read it whole once.
      const actual = await this.client
        .get(resourceTypeOf(desired.apiVersion!, desired.kind!), meta.name!, meta.namespace)
        .catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
      if (actual && containsDesired(object, actual)) {
        if (actual.metadata?.resourceVersion === cached.metadata.resourceVersion) this.verified.add(cached);
        else this.applied.set(key, actual.metadata!.resourceVersion!);
        return "unchanged";
      }
    }
    const result = await this.client.apply(object, this.fieldManager);
    const version = result?.metadata?.resourceVersion;
    if (version) {
      const now = this.cached(desired);
      if (now?.metadata?.resourceVersion === version) this.verified.add(now);
      else this.applied.set(key, version);
    }
    return "applied";
  }
}
