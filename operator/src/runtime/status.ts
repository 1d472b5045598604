import { isDeepStrictEqual } from "node:util";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { isConflict, isNotFound } from "../kube/errors.ts";
import type { ResourceType } from "../kube/resources.ts";
import { findCondition, setCondition, type Condition } from "./conditions.ts";

export interface WithStatus<S> extends KubernetesObject {
  status?: S;
}

/**
 * Writes an object's status once, at the end of a reconcile: nothing when it is unchanged (no
 * write while idle), otherwise a merge patch guarded by the resourceVersion the reconcile read,
 * retried on conflict as long as the object's generation has not moved on.
 */
export async function writeStatus<S>(
  client: KubeClient,
  type: ResourceType,
  object: WithStatus<S>,
  status: S,
  attempts = 3,
): Promise<"unchanged" | "written" | "gone"> {
  let current = object;
  for (let attempt = 1; ; attempt++) {
    if (isDeepStrictEqual(current.status ?? {}, status)) return "unchanged";
    try {
      await client.mergePatch(
        type,
        current.metadata!.name!,
        current.metadata?.namespace,
        { metadata: { resourceVersion: current.metadata?.resourceVersion }, status },
        "status",
      );
      return "written";
    } catch (error) {
      if (isNotFound(error)) return "gone";
      if (!isConflict(error) || attempt >= attempts) throw error;
      const latest = await client.get<WithStatus<S>>(type, current.metadata!.name!, current.metadata?.namespace);
      // A newer generation means a newer spec: that reconcile will write its own status.
      if (latest.metadata?.generation !== object.metadata?.generation) throw error;
      current = latest;
    }
  }
}

interface WithConditions extends KubernetesObject {
  status?: { conditions?: Condition[] } & Record<string, unknown>;
}

/**
 * Says in status that a reconcile failed, when the reconciler did not say why itself: `Ready`
 * becomes False with reason `ReconcileFailed` and the error's message (the controller retries).
 * The object is read afresh (the cache may not have the reconcile's own write yet); a `Ready`
 * already False for this generation with a reason of its own is left as it is.
 */
export async function reportReconcileFailure(client: KubeClient, type: ResourceType, request: { name: string; namespace?: string }, error: unknown, now: Date): Promise<void> {
  let object: WithConditions;
  try {
    object = await client.get<WithConditions>(type, request.name, request.namespace);
  } catch (readError) {
    if (isNotFound(readError)) return;
    throw readError;
  }
  const conditions = object.status?.conditions;
  const ready = findCondition(conditions, readyType);
  if (ready?.status === "False" && ready.observedGeneration === object.metadata?.generation && ready.reason !== "Progressing") return;
  const message = `the reconcile failed and is retried: ${(error as Error)?.message ?? String(error)}`;
  const updated = setCondition(conditions, { type: readyType, status: "False", reason: reconcileFailed, message }, object.metadata?.generation, now);
  await writeStatus(client, type, object, { ...object.status, conditions: updated });
}

const readyType = "Ready";
const reconcileFailed = "ReconcileFailed";
