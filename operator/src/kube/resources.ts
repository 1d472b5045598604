/** What the operator needs to know to address a kind over the REST API. */
export interface ResourceType {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

function type(apiVersion: string, kind: string, plural: string, namespaced: boolean): ResourceType {
  return { apiVersion, kind, plural, namespaced };
}

export const resourceTypes = {
  Namespace: type("v1", "Namespace", "namespaces", false),
  Secret: type("v1", "Secret", "secrets", true),
  ConfigMap: type("v1", "ConfigMap", "configmaps", true),
  ServiceAccount: type("v1", "ServiceAccount", "serviceaccounts", true),
  ResourceQuota: type("v1", "ResourceQuota", "resourcequotas", true),
  LimitRange: type("v1", "LimitRange", "limitranges", true),
  Pod: type("v1", "Pod", "pods", true),
  Service: type("v1", "Service", "services", true),
  PodDisruptionBudget: type("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", true),
  Event: type("v1", "Event", "events", true),
  Node: type("v1", "Node", "nodes", false),
  PersistentVolumeClaim: type("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
  PersistentVolume: type("v1", "PersistentVolume", "persistentvolumes", false),
  Deployment: type("apps/v1", "Deployment", "deployments", true),
  StatefulSet: type("apps/v1", "StatefulSet", "statefulsets", true),
  NetworkPolicy: type("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true),
  Role: type("rbac.authorization.k8s.io/v1", "Role", "roles", true),
  RoleBinding: type("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true),
  Lease: type("coordination.k8s.io/v1", "Lease", "leases", true),
  ValidatingAdmissionPolicy: type("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", false),
  ValidatingAdmissionPolicyBinding: type(
    "admissionregistration.k8s.io/v1",
    "ValidatingAdmissionPolicyBinding",
    "validatingadmissionpolicybindings",
    false,
  ),
  Collectivity: type("mutualis.fr/v1alpha1", "Collectivity", "collectivities", false),
  ServiceInstance: type("mutualis.fr/v1alpha1", "ServiceInstance", "serviceinstances", true),
  SecureShare: type("mutualis.fr/v1alpha1", "SecureShare", "secureshares", true),
} as const satisfies Record<string, ResourceType>;

export type KindName = keyof typeof resourceTypes;

export function resourceTypeOf(apiVersion: string, kind: string): ResourceType {
  const found = Object.values(resourceTypes).find((t) => t.apiVersion === apiVersion && t.kind === kind);
  if (!found) throw new Error(`unknown kind ${apiVersion}/${kind}: add it to resourceTypes`);
  return found;
}

/** The REST path of a collection (no name) or of one object. */
export function resourcePath(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = type.apiVersion.includes("/") ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const one = name ? `/${encodeURIComponent(name)}` : "";
  return `${base}${ns}/${type.plural}${one}${subresource && name ? `/${subresource}` : ""}`;
}
