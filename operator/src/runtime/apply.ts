import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";

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

export type Lookup = (apiVersion: string, kind: string, name: string, namespace?: string) => KubernetesObject | undefined;

/**
 * Server-side apply that first compares with the informer cache: an object that already holds
 * what the operator wants is not written, so a converged operator sends no writes at all.
 */
export class Applier {
  constructor(
    private readonly client: KubeClient,
    private readonly fieldManager: string,
    private readonly lookup: Lookup,
  ) {}

  async sync<T extends KubernetesObject>(desired: T): Promise<"unchanged" | "applied"> {
    const meta = desired.metadata!;
    const cached = this.lookup(desired.apiVersion!, desired.kind!, meta.name!, meta.namespace);
    if (cached && containsDesired(desired, cached)) return "unchanged";
    await this.client.apply(desired, this.fieldManager);
    return "applied";
  }
}
