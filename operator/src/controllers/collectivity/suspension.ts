import type { KubernetesObject } from "@kubernetes/client-node";
import { annotations } from "../../constants.ts";
import type { KubeClient } from "../../kube/client.ts";
import { resourceTypes } from "../../kube/resources.ts";

interface Scalable extends KubernetesObject {
  spec?: { replicas?: number };
}

/**
 * Scales the tenant's Deployments and StatefulSets to zero while it is suspended, remembering
 * each one's replicas in an annotation, and gives them back on resume. Workloads are only
 * listed when suspended or just resumed, so a running tenant costs no extra requests.
 */
export async function syncSuspension(client: KubeClient, namespace: string, suspended: boolean, wasSuspended: boolean): Promise<number> {
  if (!suspended && !wasSuspended) return 0;
  let changed = 0;
  for (const type of [resourceTypes.Deployment, resourceTypes.StatefulSet]) {
    const { items } = await client.list<Scalable>(type, { namespace });
    for (const workload of items) {
      const saved = workload.metadata?.annotations?.[annotations.replicasBeforeSuspension];
      const name = workload.metadata!.name!;
      if (suspended && saved === undefined) {
        await client.mergePatch(type, name, namespace, {
          metadata: { annotations: { [annotations.replicasBeforeSuspension]: String(workload.spec?.replicas ?? 1) } },
          spec: { replicas: 0 },
        });
        changed++;
      } else if (!suspended && saved !== undefined) {
        await client.mergePatch(type, name, namespace, {
          metadata: { annotations: { [annotations.replicasBeforeSuspension]: null } },
          spec: { replicas: Number(saved) },
        });
        changed++;
      }
    }
  }
  return changed;
}
