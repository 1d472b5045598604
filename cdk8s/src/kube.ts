/**
 * Typed Kubernetes objects for the constructs, over cdk8s's ApiObject.
 *
 * cdk8s-plus ships a generated class for every kind of every API group (the `k8s` module):
 * 870 kB of code that each process loading the constructs parses and keeps, the operator
 * included, for the eighteen kinds used here. These are those eighteen, typed with the API's own
 * models from @kubernetes/client-node (types only: nothing of it is loaded at run time), so a
 * field is written as the API spells it (`clusterIP`, `port: 8080` or `"http"`, `"100m"`).
 */
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1ConfigMap,
  V1Deployment,
  V1EnvVar,
  V1LimitRange,
  V1Namespace,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
  V1PersistentVolumeClaim,
  V1PodDisruptionBudget,
  V1PodSecurityContext,
  V1ResourceQuota,
  V1ResourceRequirements,
  V1Role,
  V1RoleBinding,
  V1Secret,
  V1SecurityContext,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
} from "@kubernetes/client-node";
import { ApiObject, type ApiObjectMetadata } from "cdk8s";
import type { Construct } from "constructs";

/**
 * A model of @kubernetes/client-node as the API's JSON spells it: the models rename the fields
 * that are reserved words in JavaScript (`_from`, `_default`), and hold times as Dates.
 */
export type Json<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? readonly Json<U>[]
    : T extends object
      ? { [K in keyof T as K extends `_${infer Field}` ? Field : K]: Json<T[K]> }
      : T;

/** What a kind's object says besides its type and what the API server writes (status). */
export type KubeProps<T> = Json<Omit<T, "apiVersion" | "kind" | "metadata" | "status">> & { readonly metadata?: ApiObjectMetadata };

/** The metadata the constructs give their objects. */
export type ObjectMeta = ApiObjectMetadata;

export type KubeKind<T> = new (scope: Construct, id: string, props: KubeProps<T>) => ApiObject;

function kind<T>(apiVersion: string, kindName: string): KubeKind<T> {
  return class extends ApiObject {
    constructor(scope: Construct, id: string, props: KubeProps<T>) {
      super(scope, id, { ...(props as object), apiVersion, kind: kindName });
    }
  };
}

export const KubeNamespace = kind<V1Namespace>("v1", "Namespace");
export const KubeConfigMap = kind<V1ConfigMap>("v1", "ConfigMap");
export const KubeSecret = kind<V1Secret>("v1", "Secret");
export const KubeService = kind<V1Service>("v1", "Service");
export const KubeServiceAccount = kind<V1ServiceAccount>("v1", "ServiceAccount");
export const KubeResourceQuota = kind<V1ResourceQuota>("v1", "ResourceQuota");
export const KubeLimitRange = kind<V1LimitRange>("v1", "LimitRange");
export const KubePersistentVolumeClaim = kind<V1PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
export const KubeDeployment = kind<V1Deployment>("apps/v1", "Deployment");
export const KubeStatefulSet = kind<V1StatefulSet>("apps/v1", "StatefulSet");
export const KubePodDisruptionBudget = kind<V1PodDisruptionBudget>("policy/v1", "PodDisruptionBudget");
export const KubeNetworkPolicy = kind<V1NetworkPolicy>("networking.k8s.io/v1", "NetworkPolicy");
export const KubeRole = kind<V1Role>("rbac.authorization.k8s.io/v1", "Role");
export const KubeRoleBinding = kind<V1RoleBinding>("rbac.authorization.k8s.io/v1", "RoleBinding");
export const KubeClusterRole = kind<V1ClusterRole>("rbac.authorization.k8s.io/v1", "ClusterRole");
export const KubeClusterRoleBinding = kind<V1ClusterRoleBinding>("rbac.authorization.k8s.io/v1", "ClusterRoleBinding");
export const KubeValidatingAdmissionPolicy = kind<V1ValidatingAdmissionPolicy>("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy");
export const KubeValidatingAdmissionPolicyBinding = kind<V1ValidatingAdmissionPolicyBinding>(
  "admissionregistration.k8s.io/v1",
  "ValidatingAdmissionPolicyBinding",
);

export type EnvVar = Json<V1EnvVar>;
export type NetworkPolicyPeer = Json<V1NetworkPolicyPeer>;
export type NetworkPolicyPort = Json<V1NetworkPolicyPort>;
export type PodSecurityContext = Json<V1PodSecurityContext>;
export type ResourceRequirements = Json<V1ResourceRequirements>;
export type SecurityContext = Json<V1SecurityContext>;
