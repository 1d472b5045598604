import type { Collectivity } from "@mutualis/api";
import { validateCollectivitySpec } from "@mutualis/api";
import {
  render,
  TenantAccess,
  TenantDatabaseCredentials,
  TenantEnvironment,
  TenantNamespace,
  TenantNatsCredentials,
  TenantNetworkPolicies,
  TenantQuota,
  type Manifest,
  type OwnerReference,
  type PlatformNetwork,
  type TenantProps,
  type TenantQuotaProps,
} from "@mutualis/cdk8s";
import { operatorName } from "../../constants.ts";
import { containerDefaults, minQuantity, resolveQuota, type TenantQuota as ResolvedQuota } from "./quota.ts";

/**
 * A Collectivity's children, rendered in process through the constructs of @mutualis/cdk8s, the
 * same the hosting-lot app uses: one definition of a tenant environment serves both.
 */

export type { Manifest, PlatformNetwork };

/** The controller owner reference: garbage collection removes the child with its Collectivity. */
export function ownedBy(collectivity: Collectivity): OwnerReference {
  return { apiVersion: "mutualis.fr/v1alpha1", kind: "Collectivity", name: collectivity.metadata!.name!, uid: collectivity.metadata!.uid!, controller: true, blockOwnerDeletion: true };
}

function tenantOf(collectivity: Collectivity): TenantProps {
  const { spec } = collectivity;
  return { name: collectivity.metadata!.name!, zone: spec.zone, displayName: spec.displayName, siren: spec.siren, managedBy: operatorName, owner: ownedBy(collectivity) };
}

/** The quota with every field decided, and container defaults never above it. */
export function quotaProps(quota: ResolvedQuota): TenantQuotaProps {
  return {
    ...quota,
    containerDefaults: {
      cpuRequest: minQuantity(containerDefaults.cpuRequest, quota.cpu),
      memoryRequest: minQuantity(containerDefaults.memoryRequest, quota.memory),
      cpuLimit: minQuantity(containerDefaults.cpuLimit, quota.cpu),
      memoryLimit: minQuantity(containerDefaults.memoryLimit, quota.memory),
    },
  };
}

export const renderNamespace = (collectivity: Collectivity): Manifest =>
  render((scope) => new TenantNamespace(scope, "namespace", { tenant: tenantOf(collectivity) }))[0]!;

export const renderQuota = (collectivity: Collectivity, quota: ResolvedQuota): Manifest[] =>
  render((scope) => new TenantQuota(scope, "quota", { tenant: tenantOf(collectivity), quota: quotaProps(quota) }));

export const renderNetworkPolicies = (collectivity: Collectivity, network: PlatformNetwork): Manifest[] =>
  render((scope) => new TenantNetworkPolicies(scope, "network", { tenant: tenantOf(collectivity), network }));

/** The Role, then its binding (the API server checks the Role a binding names). */
export const renderAccess = (collectivity: Collectivity): Manifest[] =>
  render((scope) => new TenantAccess(scope, "access", { tenant: tenantOf(collectivity), administrators: collectivity.spec.administrators ?? {} }));

export const renderNatsSecret = (collectivity: Collectivity, natsUrl: string, creds: Uint8Array): Manifest =>
  render((scope) => new TenantNatsCredentials(scope, "nats", { tenant: tenantOf(collectivity), natsUrl, creds }))[0]!;

export const renderDatabaseSecret = (collectivity: Collectivity, connection: { uri: string; database: string; caPem?: string }): Manifest =>
  render((scope) => new TenantDatabaseCredentials(scope, "database", { tenant: tenantOf(collectivity), ...connection }))[0]!;

export interface TenantConnections {
  readonly natsUrl: string;
  readonly natsCreds: Uint8Array;
  readonly databaseUri: string;
  readonly database: string;
}

/**
 * Every cluster object of one tenant, in creation order. The reconciler applies the same
 * constructs step by step; the benchmark's floor creates these with a plain client.
 */
export function renderTenant(collectivity: Collectivity, network: PlatformNetwork, connections: TenantConnections): Manifest[] {
  const spec = validateCollectivitySpec(collectivity.spec);
  const withDefaults = { ...collectivity, spec };
  return render(
    (scope) =>
      new TenantEnvironment(scope, "tenant", {
        tenant: tenantOf(withDefaults),
        quota: quotaProps(resolveQuota(spec)),
        network,
        administrators: spec.administrators ?? {},
        connections,
      }),
  );
}
