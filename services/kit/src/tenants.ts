import { departementOf } from "@mutualis/api";
import { z } from "zod";
import { ConfigError, Forbidden, NoReply } from "./errors.ts";
import { Repository, type Database } from "./mongo.ts";
import type { EndpointSpec } from "./nats.ts";
import type { BaseSettings } from "./config.ts";

export interface Tenant {
  _id: string;
  siren: string;
  departement: string;
  displayName: string;
  enabledAt: Date;
  disabledAt?: Date;
  /** Served by the collectivity's own dedicated deployment: this shared one stays silent for it. */
  delegated?: boolean;
}

/** The collectivities enabled on this shared deployment. */
export class TenantRepository extends Repository<Tenant> {
  constructor(
    database: Database,
    private readonly service: string,
  ) {
    super(database, "tenants");
  }

  async enable(collectivity: string, tenant: Omit<Tenant, "_id" | "enabledAt" | "disabledAt" | "delegated">, delegated = false): Promise<void> {
    await this.collection.updateOne(
      { _id: collectivity },
      { $set: { ...tenant, delegated }, $unset: { disabledAt: "" }, $setOnInsert: { enabledAt: new Date() } },
      { upsert: true },
    );
  }

  async disable(collectivity: string): Promise<void> {
    await this.collection.updateOne({ _id: collectivity }, { $set: { disabledAt: new Date() } });
  }

  async require(collectivity: string): Promise<Tenant> {
    const tenant = await this.collection.findOne({ _id: collectivity, disabledAt: { $exists: false } });
    if (tenant?.delegated) throw new NoReply(`collectivity ${collectivity} has a dedicated ${this.service} deployment`);
    if (!tenant) throw new Forbidden(`collectivity ${collectivity} is not enabled on the ${this.service} service`);
    return tenant;
  }
}

const collectivityName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);

/**
 * The platform endpoints every shared deployment has: the operator enables a collectivity (or
 * tells the deployment the collectivity has its own dedicated one), and disables it. Disabling
 * keeps the collectivity's data.
 */
export function tenantEndpoints(service: string, tenants: TenantRepository): EndpointSpec[] {
  return [
    {
      name: "enable-tenant",
      subject: `platform.${service}.tenants.enable`,
      schema: z.object({
        collectivity: collectivityName,
        siren: z.string().regex(/^[0-9]{9}$/),
        departement: z.string().regex(/^[0-9]{2,3}[AB]?$/),
        displayName: z.string().min(1).max(200),
        /** The collectivity has its own dedicated deployment: this one stands aside. */
        dedicated: z.boolean().default(false),
      }),
      handle: async (request) => {
        const { collectivity, dedicated, ...tenant } = request as { collectivity: string; siren: string; departement: string; displayName: string; dedicated: boolean };
        await tenants.enable(collectivity, { ...tenant, departement: tenant.departement.padStart(3, "0") }, dedicated);
        return dedicated ? { delegated: collectivity } : { enabled: collectivity };
      },
    },
    {
      name: "disable-tenant",
      subject: `platform.${service}.tenants.disable`,
      schema: z.object({ collectivity: collectivityName }),
      handle: async (request) => {
        const { collectivity } = request as { collectivity: string };
        await tenants.disable(collectivity);
        return { disabled: collectivity };
      },
    },
  ];
}

/** A deployment dedicated to one collectivity (TENANT set) serves it from the start. */
export async function enableDedicatedTenant(settings: BaseSettings, tenants: TenantRepository): Promise<void> {
  const { TENANT, TENANT_SIREN, TENANT_DISPLAY_NAME } = settings;
  if (!TENANT) return;
  if (!TENANT_SIREN || !TENANT_DISPLAY_NAME) throw new ConfigError("invalid settings: TENANT_SIREN and TENANT_DISPLAY_NAME are required with TENANT");
  await tenants.enable(TENANT, { siren: TENANT_SIREN, departement: departementOf(TENANT_SIREN), displayName: TENANT_DISPLAY_NAME });
}
