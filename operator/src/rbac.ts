/**
 * Every permission the operator needs, and nothing more: the Helm chart's ClusterRole and Role
 * are generated from these rules (`make generate`), and a test runs the operator with exactly
 * them. No wildcard anywhere; the Roles it writes for collectivities' administrators grant
 * nothing it does not hold itself (Kubernetes refuses escalation), so those rules are included.
 */
import { administratorRules } from "@mutualis/cdk8s";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const watch = ["list", "watch"];

/** Across the cluster: the custom resources, and what each collectivity's namespace holds. */
export const operatorClusterRules: PolicyRule[] = [
  // Informers list and watch; finalizers are patched; a status write that conflicts reads the latest.
  { apiGroups: ["mutualis.fr"], resources: ["collectivities", "serviceinstances", "secureshares"], verbs: ["get", ...watch, "patch"] },
  { apiGroups: ["mutualis.fr"], resources: ["collectivities/status", "serviceinstances/status", "secureshares/status"], verbs: ["patch"] },
  // Collectivities' namespaces and their children, written with server-side apply (a patch that
  // creates the object when it is missing: the API server then also asks for create). They are
  // deleted with the namespace, which the Collectivity owns, by Kubernetes' garbage collector.
  { apiGroups: [""], resources: ["namespaces", "resourcequotas", "limitranges", "services"], verbs: [...watch, "create", "patch"] },
  { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: [...watch, "create", "patch"] },
  { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: [...watch, "create", "patch"] },
  { apiGroups: ["apps"], resources: ["deployments"], verbs: [...watch, "create", "patch"] },
  { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: [...watch, "create", "patch"] },
  // Tenants' credentials and share links; the keys of a collectivity deleted with its data go too.
  { apiGroups: [""], resources: ["secrets"], verbs: ["get", ...watch, "create", "patch", "delete"] },
  // A suspended collectivity's workloads are scaled to zero.
  { apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["list", "patch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  // Held only so that the collectivity-admin Role may grant them (see administratorRules).
  ...administratorRules.map((rule) => ({ ...rule, verbs: [...rule.verbs] })),
];

/** In the operator's own namespace only: the leader-election lease. */
export const operatorNamespaceRules: PolicyRule[] = [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }];

/** Names of the ClusterRole and Role the chart gives the operator. */
export const operatorRoleName = "mutualis-operator";

/**
 * Permissions granted that the chart's test scenario does not exercise, each with why it is
 * needed all the same. The test fails on any other grant the operator does not use.
 */
export const operatorUnexercisedPermissions: Record<string, string> = {
  "create core/namespaces": "server-side apply creating the namespace is audited as a patch, and authorized as a create too",
  "create core/resourcequotas": "server-side apply creating an object is audited as a patch, and authorized as a create too",
  "create core/limitranges": "server-side apply creating an object is audited as a patch, and authorized as a create too",
  "create core/services": "server-side apply creating an object is audited as a patch, and authorized as a create too",
  "create core/secrets": "server-side apply creating an object is audited as a patch, and authorized as a create too",
  "create networking.k8s.io/networkpolicies": "server-side apply creating an object is audited as a patch, and authorized as a create too",
  "create rbac.authorization.k8s.io/roles": "server-side apply creating an object is audited as a patch, and authorized as a create too",
  "create rbac.authorization.k8s.io/rolebindings": "server-side apply creating an object is audited as a patch, and authorized as a create too",
  "create apps/deployments": "server-side apply creating an object is audited as a patch, and authorized as a create too",
  "create policy/poddisruptionbudgets": "server-side apply creating an object is audited as a patch, and authorized as a create too",
  "patch policy/poddisruptionbudgets": "a dedicated service with two replicas or more gets a PodDisruptionBudget",
  "create coordination.k8s.io/leases": "the first replica ever to lead creates the Lease; once it exists, replicas only read and renew it",
  "get mutualis.fr/collectivities": "a status write that conflicts (409) reads the latest object; only some runs conflict",
  "get mutualis.fr/serviceinstances": "a status write that conflicts (409) reads the latest object; only some runs conflict",
  "get mutualis.fr/secureshares": "a status write that conflicts (409) reads the latest object; only some runs conflict",
  "patch apps/statefulsets": "a suspended collectivity's StatefulSets, when it has some, are scaled to zero",
};
