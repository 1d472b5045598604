/** Names every Mutualis object shares, whoever renders it: the operator, the hosting-lot app, the chart. */
export const labels = {
  collectivity: "mutualis.fr/collectivity",
  zone: "mutualis.fr/zone",
  managedBy: "app.kubernetes.io/managed-by",
  partOf: "app.kubernetes.io/part-of",
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  platformComponent: "mutualis.fr/platform-component",
} as const;

export const annotations = {
  /** Read by the PodNodeSelector admission plugin: every pod of the namespace is pinned to the zone. */
  namespaceNodeSelector: "scheduler.alpha.kubernetes.io/node-selector",
  displayName: "mutualis.fr/display-name",
  siren: "mutualis.fr/siren",
} as const;

export const zoneLabel = "topology.kubernetes.io/zone";
export const regionLabel = "topology.kubernetes.io/region";
export const namespacePrefix = "coll-";

export function tenantNamespace(collectivity: string): string {
  return `${namespacePrefix}${collectivity}`;
}

/** Pod Security `restricted`, enforced and reported, on every namespace Mutualis makes. */
export const restrictedNamespaceLabels = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
  "pod-security.kubernetes.io/warn": "restricted",
  "pod-security.kubernetes.io/audit": "restricted",
} as const;

/** The hosting zones' list (one key per zone) the zone admission policy checks Collectivities against. */
export const zonesConfigMap = "hosting-zones";
export const zonePolicy = "mutualis-collectivity-zone";
