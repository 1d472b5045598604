import { isDeepStrictEqual } from "node:util";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { isConflict, isNotFound } from "../kube/errors.ts";
import type { ResourceType } from "../kube/resources.ts";

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
