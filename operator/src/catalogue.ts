import type { ServiceInstanceSpec } from "@mutualis/api";

/** Requests and limits of one pod, by plan. */
export interface PlanResources {
  readonly cpu: string;
  readonly memory: string;
  /** Limits are explicit: the namespace's default limits could be below the plan's requests. */
  readonly cpuLimit: string;
  readonly memoryLimit: string;
}

export interface CatalogueEntry {
  /** What the services image runs for this service (its first argument). */
  readonly command: string;
  readonly port: number;
  readonly tenancies: readonly ("shared" | "dedicated")[];
  readonly plans: Readonly<Record<NonNullable<ServiceInstanceSpec["plan"]>, PlanResources>>;
  /**
   * What a dedicated deployment reaches in the platform services account, `{collectivity}` being
   * the collectivity's name: request/reply services, and streams it receives. The platform
   * exports them for every collectivity; a collectivity's account imports only its own.
   */
  readonly platformImports?: { readonly services: readonly string[]; readonly streams: readonly string[] };
}

const plans = {
  small: { cpu: "100m", memory: "128Mi", cpuLimit: "500m", memoryLimit: "256Mi" },
  standard: { cpu: "250m", memory: "256Mi", cpuLimit: "1", memoryLimit: "512Mi" },
  large: { cpu: "1", memory: "1Gi", cpuLimit: "2", memoryLimit: "2Gi" },
} as const;

const entry = (
  command: string,
  tenancies: CatalogueEntry["tenancies"] = ["shared", "dedicated"],
  platformImports?: CatalogueEntry["platformImports"],
): CatalogueEntry => ({ command, port: 8080, tenancies, plans, ...(platformImports ? { platformImports } : {}) });

/**
 * The catalogue: one image for every service, the service chosen by its first argument. The
 * schema's enum (api/src/schema/service-instance.ts) lists the same names; admission refuses others.
 */
export const catalogue: Readonly<Record<ServiceInstanceSpec["service"], CatalogueEntry>> = {
  // The prefecture's connector: transmissions and cancellations out, returns back.
  actes: entry("actes", ["shared", "dedicated"], {
    services: ["prefecture.actes.{collectivity}.submit", "prefecture.actes.{collectivity}.cancel"],
    streams: ["prefecture.actes.{collectivity}.returns.>"],
  }),
  helios: entry("helios"),
  parapheur: entry("parapheur"),
  marketplace: entry("marketplace"),
  sesf: entry("sesf"),
  ipl: entry("ipl"),
  invoices: entry("invoices"),
  // One identity provider per platform: it federates every collectivity.
  identity: entry("identity", ["shared"]),
};

export const defaultServiceVersion = "0.1.0";
