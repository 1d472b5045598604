import type { Collectivity } from "@mutualis/api";
import { validateCollectivitySpec } from "@mutualis/api";
import { renderQuota } from "./limits.ts";
import { renderNamespace } from "./namespace.ts";
import { renderNetworkPolicies, type PlatformNetwork } from "./network-policies.ts";
import type { Manifest } from "./owner.ts";
import { resolveQuota } from "./quota.ts";
import { renderAccess } from "./rbac.ts";
import { renderDatabaseSecret, renderNatsSecret } from "./secrets.ts";

export interface TenantConnections {
  readonly natsUrl: string;
  readonly natsCreds: Uint8Array;
  readonly databaseUri: string;
  readonly database: string;
}

/**
 * Every cluster object of one tenant, in creation order. The reconciler applies the same
 * renderers step by step; the benchmark's floor creates these with a plain client.
 */
export function renderTenant(collectivity: Collectivity, network: PlatformNetwork, connections: TenantConnections): Manifest[] {
  const spec = validateCollectivitySpec(collectivity.spec);
  const withDefaults = { ...collectivity, spec };
  return [
    renderNamespace(withDefaults),
    ...renderQuota(withDefaults, resolveQuota(spec)),
    ...renderNetworkPolicies(withDefaults, network),
    ...renderAccess(withDefaults),
    renderNatsSecret(withDefaults, connections.natsUrl, connections.natsCreds),
    renderDatabaseSecret(withDefaults, connections.databaseUri, connections.database),
  ];
}
