import { departementOf } from "@mutualis/api";
import { z } from "zod";
import { ConfigError, Forbidden, InvalidRequest, NoReply } from "./errors.ts";
import { Repository, type Database } from "./mongo.ts";
import { platformEndpoint, type EndpointSpec } from "./nats.ts";
import type { BaseSettings } from "./config.ts";

/**
 * What the State's systems know of the collectivity (its Collectivity's `spec.actes`): the
 * prefecture controlling its acts, its arrondissement, its kind of authority as @ctes codes it,
 * and the SIRET of its seat. Absent when the Collectivity does not declare it.
 */
export const tenantAuthority = z.object({
  departement: z.string().regex(/^[09][0-9][0-9AB]$/, "must be three characters such as 035, 02A or 974"),
  arrondissement: z.number().int().min(0).max(9),
  nature: z.string().regex(/^[0-9]{2}$/, "must be two digits"),
  siret: z.string().regex(/^[0-9]{14}$/, "must be 14 digits").optional(),
});

export type TenantAuthority = z.infer<typeof tenantAuthority>;

export interface Tenant {
  _id: string;
  siren: string;
  departement: string;
  displayName: string;
  enabledAt: Date;
  disabledAt?: Date;
  /** Served by the collectivity's own dedicated deployment: this shared one stays silent for it. */
  delegated?: boolean;
  /** The collectivity's own settings of the service (the ServiceInstance's `spec.settings`), validated. */
  settings?: Record<string, unknown>;
  authority?: TenantAuthority;
}

/** Lists what is wrong with settings, by name: "maxFileBytes: …; other: …". */
function problemsOf(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "settings"}: ${issue.message}`).join("; ");
}

/** The collectivities enabled on this shared deployment. */
export class TenantRepository extends Repository<Tenant> {
  /**
   * `settings` is the schema of the settings a collectivity may give the service (its limits,
   * say); without one, a collectivity can give none.
   */
  constructor(
    database: Database,
    private readonly service: string,
    private readonly settings: z.ZodType<Record<string, unknown>> = z.object({}).strict(),
  ) {
    super(database, "tenants");
  }

  /** The settings checked against the service's schema, or InvalidRequest naming each problem. */
  parseSettings(raw: unknown): Record<string, unknown> {
    const parsed = this.settings.safeParse(raw ?? {});
    if (!parsed.success) throw new InvalidRequest(`invalid ${this.service} settings: ${problemsOf(parsed.error)}`);
    return parsed.data;
  }

  async enable(collectivity: string, tenant: Omit<Tenant, "_id" | "enabledAt" | "disabledAt" | "delegated" | "settings">, delegated = false, settings: unknown = {}): Promise<void> {
    const checked = this.parseSettings(settings);
    const { authority, ...rest } = tenant;
    // A Collectivity that no longer declares its authority loses the one it had.
    await this.collection.updateOne(
      { _id: collectivity },
      {
        $set: { ...rest, delegated, settings: checked, ...(authority ? { authority } : {}) },
        $unset: { disabledAt: "", ...(authority ? {} : { authority: "" }) },
        $setOnInsert: { enabledAt: new Date() },
      },
      { upsert: true },
    );
  }

  /** The settings the collectivity gave the service; none when it is not enabled. */
  async settingsOf(collectivity: string): Promise<Record<string, unknown>> {
    return (await this.collection.findOne({ _id: collectivity }))?.settings ?? {};
  }

  async disable(collectivity: string): Promise<void> {
    await this.collection.updateOne({ _id: collectivity }, { $set: { disabledAt: new Date() } });
  }

  /**
   * For what must work even once a collectivity is disabled — revoking and purging what it left
   * behind: only a collectivity served by its own dedicated deployment is refused (silently).
   */
  async requireForCleanup(collectivity: string): Promise<void> {
    const tenant = await this.collection.findOne({ _id: collectivity });
    if (tenant?.delegated && !tenant.disabledAt) throw new NoReply(`collectivity ${collectivity} has a dedicated ${this.service} deployment`);
  }

  /** The enabled collectivity with this SIREN, if any (an agent's establishment names it). */
  async bySiren(siren: string): Promise<string | undefined> {
    return (await this.collection.findOne({ siren, disabledAt: { $exists: false } }))?._id;
  }

  /** The collectivities enabled now, by name. */
  enabled(): Promise<Tenant[]> {
    return this.collection.find({ disabledAt: { $exists: false } }).sort({ _id: 1 }).toArray();
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
    platformEndpoint({
      name: "enable-tenant",
      subject: `platform.${service}.tenants.enable`,
      schema: z.object({
        collectivity: collectivityName,
        siren: z.string().regex(/^[0-9]{9}$/),
        departement: z.string().regex(/^[0-9]{2,3}[AB]?$/),
        displayName: z.string().min(1).max(200),
        authority: tenantAuthority.optional(),
        /** The collectivity has its own dedicated deployment: this one stands aside. */
        dedicated: z.boolean().default(false),
        /** The ServiceInstance's settings, checked by the service (400 naming each problem). */
        settings: z.record(z.string(), z.unknown()).default({}),
      }),
      handle: async ({ collectivity, dedicated, settings, ...tenant }) => {
        await tenants.enable(collectivity, { ...tenant, departement: tenant.departement.padStart(3, "0") }, dedicated, settings);
        return dedicated ? { delegated: collectivity } : { enabled: collectivity };
      },
    }),
    platformEndpoint({
      name: "disable-tenant",
      subject: `platform.${service}.tenants.disable`,
      schema: z.object({ collectivity: collectivityName }),
      handle: async ({ collectivity }) => {
        await tenants.disable(collectivity);
        return { disabled: collectivity };
      },
    }),
  ];
}

/** A deployment dedicated to one collectivity (TENANT set) serves it from the start. */
export async function enableDedicatedTenant(settings: BaseSettings, tenants: TenantRepository): Promise<void> {
  const { TENANT, TENANT_SIREN, TENANT_DISPLAY_NAME, TENANT_SETTINGS, TENANT_AUTHORITY } = settings;
  if (!TENANT) return;
  if (!TENANT_SIREN || !TENANT_DISPLAY_NAME) throw new ConfigError("invalid settings: TENANT_SIREN and TENANT_DISPLAY_NAME are required with TENANT");
  let own: unknown;
  try {
    own = JSON.parse(TENANT_SETTINGS ?? "{}");
    tenants.parseSettings(own);
  } catch (error) {
    throw new ConfigError(`invalid settings: TENANT_SETTINGS: ${error instanceof SyntaxError ? "must be a JSON object" : (error as Error).message}`);
  }
  let authority: TenantAuthority | undefined;
  if (TENANT_AUTHORITY) {
    let raw: unknown;
    try {
      raw = JSON.parse(TENANT_AUTHORITY);
    } catch {
      throw new ConfigError("invalid settings: TENANT_AUTHORITY: must be a JSON object");
    }
    const parsed = tenantAuthority.safeParse(raw);
    if (!parsed.success) throw new ConfigError(`invalid settings: TENANT_AUTHORITY: ${problemsOf(parsed.error)}`);
    authority = parsed.data;
  }
  await tenants.enable(
    TENANT,
    { siren: TENANT_SIREN, departement: authority?.departement ?? departementOf(TENANT_SIREN), displayName: TENANT_DISPLAY_NAME, ...(authority ? { authority } : {}) },
    false,
    own,
  );
}
