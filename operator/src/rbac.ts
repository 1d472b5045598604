/**
 * Every permission the operator needs, and nothing more: the Helm chart's ClusterRole and Role
 * are generated from these rules (`make generate`), and a test runs the operator with exactly
 * them. No wildcard anywhere; the Roles it writes for collectivities' administrators grant
 * nothing it does not hold itself (Kubernetes refuses escalation), so those rules are included.
 */
import { administratorRules } from "./controllers/collectivity/rbac.ts";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const read = ["get", "list", "watch"];
/** Server-side apply (patch, create on first apply), and deletion of what a tenant no longer needs. */
const own = [...read, "create", "patch", "update", "delete"];

/** Across the cluster: the custom resources, and what each collectivity's namespace holds. */
export const operatorClusterRules: PolicyRule[] = [
  { apiGroups: ["mutualis.fr"], resources: ["collectivities", "serviceinstances", "secureshares"], verbs: [...read, "patch", "update"] },
  { apiGroups: ["mutualis.fr"], resources: ["collectivities/status", "serviceinstances/status", "secureshares/status"], verbs: ["get", "patch", "update"] },
  // Collectivities' namespaces and their children (quota, limits, policies, access, secrets).
  { apiGroups: [""], resources: ["namespaces", "resourcequotas", "limitranges", "secrets", "services"], verbs: own },
  { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: own },
  { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: own },
  // Dedicated service deployments, and their scaling to zero when a collectivity is suspended.
  { apiGroups: ["apps"], resources: ["deployments", "statefulsets"], verbs: own },
  { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: own },
  { apiGroups: [""], resources: ["pods"], verbs: read },
  { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
  // Held so that the collectivity-admin Role may grant them (see administratorRules).
  ...administratorRules.filter((rule) => !rule.apiGroups.includes("mutualis.fr")).map((rule) => ({ ...rule, verbs: [...rule.verbs] })),
  { apiGroups: ["mutualis.fr"], resources: ["serviceinstances", "secureshares"], verbs: ["create", "delete"] },
];

/** In the operator's own namespace only: the leader-election lease. */
export const operatorNamespaceRules: PolicyRule[] = [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }];

/** Names of the ClusterRole and Role the chart gives the operator. */
export const operatorRoleName = "mutualis-operator";
