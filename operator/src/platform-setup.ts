import type { KubernetesObject } from "@kubernetes/client-node";
import { HostingZones, render } from "@mutualis/cdk8s";
import { fieldManager, labels } from "./constants.ts";
import type { KubeClient } from "./kube/client.ts";
import { isNotFound } from "./kube/errors.ts";

export { zonePolicy, zonesConfigMap } from "@mutualis/cdk8s";

/**
 * The cluster-wide pieces the operator relies on: its namespace, the list of hosting zones, and
 * the admission policy that refuses a Collectivity in a zone the platform does not have (the
 * hosting lot's HostingZones construct, the one definition of them).
 */
export function platformObjects(namespace: string, zones: readonly string[]): KubernetesObject[] {
  const common = { [labels.managedBy]: "mutualis-operator", [labels.partOf]: "mutualis" };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels: common } },
    ...render((scope) => new HostingZones(scope, "zones", { namespace, zones: zones.map((name) => ({ name, region: "" })), labels: common })),
  ];
}

/** Server-side applies the platform objects; the API server leaves unchanged ones as they are. */
export async function ensurePlatformObjects(client: KubeClient, namespace: string, zones: readonly string[]): Promise<void> {
  for (const object of platformObjects(namespace, zones)) {
    await client.apply(object, fieldManager).catch((error: unknown) => {
      if (isNotFound(error)) throw new Error(`cannot install ${object.kind} ${object.metadata?.name}: is this Kubernetes 1.30 or newer?`);
      throw error;
    });
  }
}
