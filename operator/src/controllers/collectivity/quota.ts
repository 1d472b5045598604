import type { CollectivitySpec } from "@mutualis/api";

/** The resources a tenant namespace may use, with every field decided. */
export interface TenantQuota {
  readonly cpu: string;
  readonly memory: string;
  readonly storage: string;
  readonly pods: number;
  readonly serviceInstances: number;
}

type Size = "small" | "medium" | "large";

const sizes: Record<Size, TenantQuota> = {
  small: { cpu: "2", memory: "4Gi", storage: "20Gi", pods: 20, serviceInstances: 5 },
  medium: { cpu: "4", memory: "8Gi", storage: "100Gi", pods: 50, serviceInstances: 10 },
  large: { cpu: "16", memory: "32Gi", storage: "500Gi", pods: 200, serviceInstances: 20 },
};

/** How big a collectivity's default quota is, from its category and population. */
export function defaultSize(category: CollectivitySpec["category"], population: number | undefined): Size {
  switch (category) {
    case "region":
    case "departement":
      return "large";
    case "epci":
      return (population ?? 0) >= 100_000 ? "large" : "medium";
    case "commune":
      if ((population ?? 0) >= 50_000) return "large";
      return (population ?? 0) >= 2_000 ? "medium" : "small";
    default:
      return "medium";
  }
}

/** The quota in force: the spec's fields, and the category's defaults for those left out. */
export function resolveQuota(spec: Pick<CollectivitySpec, "category" | "population" | "quota">): TenantQuota {
  const defaults = sizes[defaultSize(spec.category, spec.population)];
  return {
    cpu: spec.quota?.cpu ?? defaults.cpu,
    memory: spec.quota?.memory ?? defaults.memory,
    storage: spec.quota?.storage ?? defaults.storage,
    pods: spec.quota?.pods ?? defaults.pods,
    serviceInstances: spec.quota?.serviceInstances ?? defaults.serviceInstances,
  };
}

const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const decimal: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A Kubernetes quantity as a number (cores, bytes); undefined when it is not one. */
export function parseQuantity(text: string): number | undefined {
  const match = /^([+-]?[0-9.]+)(?:[eE]([+-]?[0-9]+))?([a-zA-Z]*)$/.exec(text.trim());
  if (!match) return undefined;
  const [, number, exponent, suffix = ""] = match;
  const value = Number(number) * (exponent ? 10 ** Number(exponent) : 1);
  const factor = binary[suffix] ?? decimal[suffix];
  return factor === undefined || Number.isNaN(value) ? undefined : value * factor;
}

/** Per-container defaults and bounds; a container never gets more than the whole quota. */
export const containerDefaults = { cpuRequest: "100m", memoryRequest: "128Mi", cpuLimit: "500m", memoryLimit: "512Mi" } as const;

/**
 * Why a quota cannot be applied, in words for the Ready condition; empty when it can. A
 * namespace whose quota is below one container's default request could never run anything.
 */
export function quotaProblems(quota: TenantQuota): string[] {
  const problems: string[] = [];
  const cpu = parseQuantity(quota.cpu) ?? 0;
  const memory = parseQuantity(quota.memory) ?? 0;
  if (cpu < (parseQuantity(containerDefaults.cpuRequest) ?? 0)) {
    problems.push(`quota.cpu ${quota.cpu} is below one container's default request (${containerDefaults.cpuRequest})`);
  }
  if (memory < (parseQuantity(containerDefaults.memoryRequest) ?? 0)) {
    problems.push(`quota.memory ${quota.memory} is below one container's default request (${containerDefaults.memoryRequest})`);
  }
  return problems;
}

/** The smaller of two quantities, as written. */
export function minQuantity(a: string, b: string): string {
  return (parseQuantity(a) ?? Infinity) <= (parseQuantity(b) ?? Infinity) ? a : b;
}

/** What a tenant's NATS account may hold in JetStream (its account JWT's limits). */
export interface JetStreamLimits {
  readonly streams: number;
  readonly consumers: number;
  /** The most one stream may hold on disk; every stream must say its own maximum, at most this. */
  readonly streamBytes: number;
}

/** No stream may be smaller than a service needs for its flows (actes asks 256 MiB by default). */
const minimumStreamBytes = 256 * 2 ** 20;

/**
 * A tenant's share of the JetStream that also holds the platform's streams, from its quota:
 * four streams per ServiceInstance it may have (at least four), sixteen consumers per stream,
 * and each stream at most a tenth of its storage shared between them (256 MiB at least).
 * The bound is per stream, not per account: a single NATS server reserves an account's whole
 * storage limit up front, so the sum over every tenant would have to fit its disk at once.
 */
export function jetStreamLimits(quota: TenantQuota): JetStreamLimits {
  const streams = Math.max(4, 4 * quota.serviceInstances);
  return {
    streams,
    consumers: 16 * streams,
    streamBytes: Math.max(minimumStreamBytes, Math.floor((parseQuantity(quota.storage) ?? 0) / 10 / streams)),
  };
}
