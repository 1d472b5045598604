import type { KubernetesObject } from "@kubernetes/client-node";
import { fieldManager, labels } from "./constants.ts";
import type { KubeClient } from "./kube/client.ts";
import { isNotFound } from "./kube/errors.ts";

export const zonesConfigMap = "hosting-zones";
export const zonePolicy = "mutualis-collectivity-zone";

/**
 * The cluster-wide pieces the operator relies on: its namespace, the list of hosting zones, and
 * the admission policy that refuses a Collectivity in a zone the platform does not have.
 */
export function platformObjects(namespace: string, zones: readonly string[]): KubernetesObject[] {
  const common = { [labels.managedBy]: "mutualis-operator", [labels.partOf]: "mutualis" };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels: common } },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: zonesConfigMap, namespace, labels: common },
      data: Object.fromEntries(zones.map((zone) => [zone, "available"])),
    } as KubernetesObject,
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: zonePolicy, labels: common },
      spec: {
        failurePolicy: "Fail",
        paramKind: { apiVersion: "v1", kind: "ConfigMap" },
        matchConstraints: {
          resourceRules: [{ apiGroups: ["mutualis.fr"], apiVersions: ["*"], operations: ["CREATE"], resources: ["collectivities"] }],
        },
        validations: [
          {
            expression: "has(params.data) && object.spec.zone in params.data",
            messageExpression:
              "'spec.zone: ' + object.spec.zone + ' is not a hosting zone of this platform; known zones: ' + (has(params.data) ? params.data.map(z, z).join(', ') : 'none')",
            reason: "Invalid",
          },
        ],
      },
    } as KubernetesObject,
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: zonePolicy, labels: common },
      spec: {
        policyName: zonePolicy,
        paramRef: { name: zonesConfigMap, namespace, parameterNotFoundAction: "Deny" },
        validationActions: ["Deny"],
      },
    } as KubernetesObject,
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
