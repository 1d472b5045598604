import type { V1OwnerReference } from "@kubernetes/client-node";
import type { Collectivity } from "@mutualis/api";
import { labels, operatorName } from "../../constants.ts";

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: V1OwnerReference[];
  };
  [field: string]: unknown;
};

/** Labels every object the operator keeps for a collectivity carries. */
export function tenantLabels(collectivity: Collectivity): Record<string, string> {
  return {
    [labels.collectivity]: collectivity.metadata!.name!,
    [labels.managedBy]: operatorName,
    [labels.partOf]: "mutualis",
  };
}

/** The controller owner reference: garbage collection removes the child with its Collectivity. */
export function ownedBy(collectivity: Collectivity): V1OwnerReference[] {
  return [
    {
      apiVersion: "mutualis.fr/v1alpha1",
      kind: "Collectivity",
      name: collectivity.metadata!.name!,
      uid: collectivity.metadata!.uid!,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

export function childMetadata(collectivity: Collectivity, name: string, namespace?: string): Manifest["metadata"] {
  return {
    name,
    ...(namespace ? { namespace } : {}),
    labels: tenantLabels(collectivity),
    ownerReferences: ownedBy(collectivity),
  };
}
