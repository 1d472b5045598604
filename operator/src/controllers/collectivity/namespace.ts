import type { Collectivity } from "@mutualis/api";
import { annotations, labels, tenantNamespace, zoneLabel } from "../../constants.ts";
import { childMetadata, type Manifest } from "./owner.ts";

/**
 * The tenant namespace: Pod Security `restricted` enforced, and every pod pinned to the
 * collectivity's zone by the PodNodeSelector admission plugin (data residency).
 */
export function renderNamespace(collectivity: Collectivity): Manifest {
  const metadata = childMetadata(collectivity, tenantNamespace(collectivity.metadata!.name!));
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      ...metadata,
      labels: {
        ...metadata.labels,
        [labels.zone]: collectivity.spec.zone,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
      },
      annotations: {
        [annotations.namespaceNodeSelector]: `${zoneLabel}=${collectivity.spec.zone}`,
        "mutualis.fr/display-name": collectivity.spec.displayName,
        "mutualis.fr/siren": collectivity.spec.siren,
      },
    },
  };
}
