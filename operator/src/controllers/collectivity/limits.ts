import type { Collectivity } from "@mutualis/api";
import { tenantNamespace } from "../../constants.ts";
import { childMetadata, type Manifest } from "./owner.ts";
import { containerDefaults, minQuantity, type TenantQuota } from "./quota.ts";

/** The ResourceQuota and LimitRange that hold the tenant to its quota. */
export function renderQuota(collectivity: Collectivity, quota: TenantQuota): Manifest[] {
  const namespace = tenantNamespace(collectivity.metadata!.name!);
  return [
    {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: childMetadata(collectivity, "tenant-quota", namespace),
      spec: {
        hard: {
          "requests.cpu": quota.cpu,
          "requests.memory": quota.memory,
          "limits.memory": quota.memory,
          "requests.storage": quota.storage,
          pods: String(quota.pods),
          "count/serviceinstances.mutualis.fr": String(quota.serviceInstances),
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "LimitRange",
      metadata: childMetadata(collectivity, "tenant-limits", namespace),
      spec: {
        limits: [
          {
            type: "Container",
            defaultRequest: {
              cpu: minQuantity(containerDefaults.cpuRequest, quota.cpu),
              memory: minQuantity(containerDefaults.memoryRequest, quota.memory),
            },
            default: {
              cpu: minQuantity(containerDefaults.cpuLimit, quota.cpu),
              memory: minQuantity(containerDefaults.memoryLimit, quota.memory),
            },
            max: { cpu: quota.cpu, memory: quota.memory },
          },
        ],
      },
    },
  ];
}
