import type { KubernetesObject } from "@kubernetes/client-node";
import { validateCollectivitySpec, type Collectivity, type CollectivitySpec, type CollectivityStatus } from "@mutualis/api";
import {
  annotations,
  conditionTypes,
  finalizers,
  labels,
  reasons,
  tenantDatabase,
  tenantNamespace,
} from "../../constants.ts";
import type { KubeClient } from "../../kube/client.ts";
import { KubeApiError, isNotFound } from "../../kube/errors.ts";
import { resourceTypes } from "../../kube/resources.ts";
import type { Applier } from "../../runtime/apply.ts";
import { findCondition, setCondition, type Condition, type ConditionUpdate } from "../../runtime/conditions.ts";
import type { Reconciler, Request, Result } from "../../runtime/controller.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import type { Informer } from "../../runtime/informer.ts";
import type { Logger } from "../../runtime/log.ts";
import { reportReconcileFailure, writeStatus } from "../../runtime/status.ts";
import { newDatabaseRole, type Databases, type DatabaseRole } from "../../tenancy/databases.ts";
import { newTenantKeys, type NatsAccounts, type TenantKeys } from "../../tenancy/nats-accounts.ts";
import { jetStreamLimits, quotaProblems, resolveQuota } from "./quota.ts";
import { renderAccess, renderDatabaseSecret, renderNamespace, renderNatsSecret, renderNetworkPolicies, renderQuota, type PlatformNetwork } from "./render.ts";
import { syncSuspension } from "./suspension.ts";

interface Secret extends KubernetesObject {
  data?: Record<string, string>;
}

/** What the operator keeps about a tenant in the platform namespace, never in the tenant's own. */
interface TenantSecrets extends TenantKeys {
  /** The tenant's database role (a random name) and its password. */
  readonly databaseUser: string;
  readonly databasePassword: string;
  /** The last value of the rotation annotation acted on. */
  readonly databaseRotation?: string;
}

const secretFields = ["accountSeed", "userSeed", "userJwt", "databaseUser", "databasePassword", "databaseRotation"] as const;

/** The keys kept, or, for keys kept before tenants had roles of their own, those with a new role. */
function readTenantSecrets(secret: Secret | undefined): { keys: TenantSecrets; complete: boolean } | undefined {
  const data = secret?.data;
  if (!data?.accountSeed || !data.userSeed) return undefined;
  const complete = Boolean(data.databaseUser && data.databasePassword);
  const role = complete ? { user: decode(data.databaseUser)!, password: decode(data.databasePassword)! } : newDatabaseRole("tenant");
  return {
    complete,
    keys: {
      accountSeed: decode(data.accountSeed)!,
      userSeed: decode(data.userSeed)!,
      userJwt: decode(data.userJwt),
      databaseUser: role.user,
      databasePassword: role.password,
      databaseRotation: decode(data.databaseRotation),
    },
  };
}

export interface CollectivityReconcilerDeps {
  readonly client: KubeClient;
  readonly applier: Applier;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly collectivities: Informer<Collectivity>;
  readonly nats: NatsAccounts;
  readonly natsUrlForTenants: string;
  readonly databases: Databases;
  readonly network: PlatformNetwork;
  readonly platformNamespace: string;
  /** The platform's hosting zones. */
  readonly zones: () => ReadonlySet<string>;
  /** The shared services the collectivity's ServiceInstances ask for (its NATS account imports them). */
  readonly sharedServices: (collectivity: string) => string[];
  /** The services it runs dedicated (their deployments use its account; the platform imports them). */
  readonly dedicatedServices: (collectivity: string) => string[];
  readonly now?: () => Date;
}

/** A step's failure that retrying cannot fix until the spec changes; said in status only. */
class SpecProblem extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function reasonOf(error: unknown, fallback: string): string {
  if (error instanceof SpecProblem) return error.reason;
  const name = (error as Error)?.name;
  if (name === "MessagingError") return reasons.messagingUnavailable;
  if (name === "DatabaseError") return reasons.databaseUnavailable;
  return fallback;
}

const stepOrder = [
  conditionTypes.namespaceReady,
  conditionTypes.quotaApplied,
  conditionTypes.networkIsolated,
  conditionTypes.accessConfigured,
  conditionTypes.messagingReady,
  conditionTypes.databaseReady,
];

const decode = (value: string | undefined) => (value ? Buffer.from(value, "base64").toString("utf8") : undefined);

/**
 * Keeps, for each Collectivity, an isolated tenant: namespace, quota, network policies,
 * administrators' access, NATS account and user, database; suspends and resumes it; and on
 * deletion applies its deletion policy to the data outside the cluster.
 */
export class CollectivityReconciler implements Reconciler {
  constructor(private readonly deps: CollectivityReconcilerDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** A failed reconcile is said in status. */
  reportFailure(request: Request, error: unknown): Promise<void> {
    return reportReconcileFailure(this.deps.client, resourceTypes.Collectivity, request, error, this.deps.now?.() ?? new Date());
  }


  async reconcile({ name }: Request): Promise<Result | undefined> {
    const collectivity = this.deps.collectivities.get(name);
    if (!collectivity) return undefined;
    if (collectivity.metadata?.deletionTimestamp) {
      await this.finalize(collectivity);
      return undefined;
    }
    const current = await this.ensureFinalizer(collectivity);
    if (!current) return undefined;

    const spec = validateCollectivitySpec(current.spec);
    const steps = new Map<string, ConditionUpdate>();
    const failures: unknown[] = [];
    const step = async (type: string, run: () => Promise<ConditionUpdate>) => {
      try {
        steps.set(type, await run());
      } catch (error) {
        if (!(error instanceof SpecProblem)) failures.push(error);
        steps.set(type, { type, status: "False", reason: reasonOf(error, reasons.failed), message: (error as Error).message });
      }
    };
    const applied = (type: string, message: string): ConditionUpdate => ({ type, status: "True", reason: reasons.applied, message });

    let natsAccount = current.status?.natsAccount;
    let database = current.status?.database;
    const holder = this.sirenHolder(current, spec.siren);
    if (holder) {
      steps.set(conditionTypes.namespaceReady, {
        type: conditionTypes.namespaceReady,
        status: "False",
        reason: reasons.sirenInUse,
        message: `SIREN ${spec.siren} is already the tenant of Collectivity ${holder}: one legal entity is one tenant, so nothing is created for this one; delete it, or correct its SIREN by creating it again`,
      });
    } else if (!this.deps.zones().has(spec.zone)) {
      const known = [...this.deps.zones()].sort().join(", ");
      steps.set(conditionTypes.namespaceReady, {
        type: conditionTypes.namespaceReady,
        status: "False",
        reason: reasons.unknownZone,
        message: `zone ${spec.zone} is not a hosting zone of this platform (known: ${known}); nothing is created outside a known zone`,
      });
    } else {
      const namespace = tenantNamespace(name);
      await step(conditionTypes.namespaceReady, async () => {
        await this.deps.applier.sync(renderNamespace(current));
        return applied(conditionTypes.namespaceReady, `namespace ${namespace}, pods pinned to zone ${spec.zone}`);
      });
      // Once the namespace exists the other steps are independent: run them together.
      await Promise.all([
        step(conditionTypes.quotaApplied, () => this.syncQuota(current, spec)),
        step(conditionTypes.networkIsolated, async () => {
          await Promise.all(renderNetworkPolicies(current, this.deps.network).map((policy) => this.deps.applier.sync(policy)));
          return applied(conditionTypes.networkIsolated, "default deny; allowed: own namespace, DNS, platform NATS and database, gateway and monitoring");
        }),
        step(conditionTypes.accessConfigured, async () => {
          // In order: the API server checks the Role a RoleBinding names.
          for (const object of renderAccess(current)) await this.deps.applier.sync(object);
          const admins = (spec.administrators?.users?.length ?? 0) + (spec.administrators?.groups?.length ?? 0);
          return applied(conditionTypes.accessConfigured, `${admins} administrator subject(s) may manage ServiceInstances and SecureShares in ${namespace}`);
        }),
        (async () => {
          // Both need the tenant's keys, created once: fetch them before the two steps.
          let keys: TenantSecrets | undefined;
          await step(conditionTypes.messagingReady, async () => {
            keys = await this.tenantKeys(current);
            const tenant = await this.deps.nats.ensureTenant(name, keys, spec.suspended ?? false, this.deps.sharedServices(name), this.deps.dedicatedServices(name), jetStreamLimits(resolveQuota(spec)));
            natsAccount = tenant.accountPublicKey;
            if (tenant.userJwt !== keys.userJwt) {
              keys = { ...keys, userJwt: tenant.userJwt };
              await this.saveKeys(current, keys);
            }
            await this.deps.applier.sync(renderNatsSecret(current, this.deps.natsUrlForTenants, tenant.userCreds));
            return spec.suspended
              ? { type: conditionTypes.messagingReady, status: "False", reason: reasons.suspended, message: "the tenant's NATS user is revoked while suspended" }
              : applied(conditionTypes.messagingReady, `NATS account ${tenant.accountPublicKey}; user limited to tenant.${name}.>`);
          });
          await step(conditionTypes.databaseReady, async () => {
            keys ??= await this.tenantKeys(current);
            const result = await this.syncDatabase(current, spec, keys);
            database = result.database;
            return applied(conditionTypes.databaseReady, `database ${result.database}, owned by the collectivity's own role`);
          });
        })(),
      ]);
      if (steps.get(conditionTypes.namespaceReady)?.status === "True") {
        try {
          await syncSuspension(this.deps.client, namespace, spec.suspended ?? false, this.wasSuspended(current));
        } catch (error) {
          failures.push(error);
        }
      }
    }

    const ready = this.readiness(name, spec, steps, failures);
    const now = this.now();
    let conditions: Condition[] = (current.status?.conditions ?? []) as Condition[];
    // A fixed order: steps finish in any order, and a reordered list would be a needless write.
    const ordered = stepOrder.map((type) => steps.get(type)).filter((c): c is ConditionUpdate => c !== undefined);
    for (const update of [...ordered, ready]) conditions = setCondition(conditions, update, current.metadata?.generation, now);
    const status: CollectivityStatus = {
      observedGeneration: current.metadata?.generation,
      conditions,
      namespace: tenantNamespace(name),
      zone: spec.zone,
      ...(natsAccount ? { natsAccount } : {}),
      ...(database ? { database } : {}),
    };
    await this.recordTransitions(current, ready);
    await writeStatus(this.deps.client, resourceTypes.Collectivity, current, status);
    if (failures.length > 0) throw failures[0];
    // Looked at again while refused: the holder may go.
    return holder ? { requeueAfterMs: 30_000 } : undefined;
  }

  /**
   * The Collectivity that holds this SIREN, when it is another: the oldest (then the first by
   * name) of those that declare it and are not being deleted. Two created at the same moment
   * are told apart the same way by every reconcile, so exactly one is provisioned.
   */
  private sirenHolder(current: Collectivity, siren: string): string | undefined {
    const key = (c: Collectivity) => `${c.metadata?.creationTimestamp ? new Date(c.metadata.creationTimestamp).toISOString() : ""}\u0000${c.metadata?.name ?? ""}`;
    const holders = this.deps.collectivities
      .list()
      .filter((c) => c.spec?.siren === siren && !c.metadata?.deletionTimestamp)
      .sort((a, b) => key(a).localeCompare(key(b)));
    const first = holders[0]?.metadata?.name;
    return first && first !== current.metadata?.name ? first : undefined;
  }

  private readiness(name: string, spec: CollectivitySpec, steps: Map<string, ConditionUpdate>, failures: unknown[]): ConditionUpdate {
    const failed = [...steps.values()].find((c) => c.status === "False" && c.reason !== reasons.suspended);
    if (failed) return { type: conditionTypes.ready, status: "False", reason: failed.reason, message: `${failed.type}: ${failed.message}` };
    if (failures.length > 0) {
      return { type: conditionTypes.ready, status: "False", reason: reasons.failed, message: (failures[0] as Error).message };
    }
    if (spec.suspended) {
      return {
        type: conditionTypes.ready,
        status: "False",
        reason: reasons.suspended,
        message: "suspended: NATS user revoked and workloads scaled to zero, data kept; set spec.suspended to false to resume",
      };
    }
    return { type: conditionTypes.ready, status: "True", reason: reasons.ready, message: `tenant ${tenantNamespace(name)} is ready in zone ${spec.zone}` };
  }

  private wasSuspended(collectivity: Collectivity): boolean {
    return findCondition(collectivity.status?.conditions as Condition[] | undefined, conditionTypes.ready)?.reason === reasons.suspended;
  }

  private async syncQuota(collectivity: Collectivity, spec: CollectivitySpec): Promise<ConditionUpdate> {
    const quota = resolveQuota(spec);
    const problems = quotaProblems(quota);
    if (problems.length > 0) throw new SpecProblem(reasons.quotaInvalid, `the quota cannot be applied: ${problems.join("; ")}`);
    try {
      await Promise.all(renderQuota(collectivity, quota).map((object) => this.deps.applier.sync(object)));
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 422) {
        throw new SpecProblem(reasons.quotaInvalid, `the quota cannot be applied: ${error.message}`);
      }
      throw error;
    }
    return {
      type: conditionTypes.quotaApplied,
      status: "True",
      reason: reasons.applied,
      message: `cpu ${quota.cpu}, memory ${quota.memory}, storage ${quota.storage}, ${quota.pods} pods, ${quota.serviceInstances} service instances`,
    };
  }

  /**
   * The tenant's database and role; a new value of the rotation annotation gives the role a new
   * password first (saved only once PostgreSQL has it: a rotation cut short is done again).
   */
  private async syncDatabase(collectivity: Collectivity, spec: CollectivitySpec, keys: TenantSecrets): Promise<{ database: string }> {
    const name = collectivity.metadata!.name!;
    const database = tenantDatabase(name);
    const marker = { collectivity: name, siren: spec.siren };
    const requested = collectivity.metadata?.annotations?.[annotations.rotateDatabaseCredentials];
    let role: DatabaseRole = { user: keys.databaseUser, password: keys.databasePassword };
    let connection;
    if (requested && requested !== keys.databaseRotation) {
      role = { user: role.user, password: newDatabaseRole("tenant").password };
      connection = await this.deps.databases.rotate(database, role, marker);
      await this.saveKeys(collectivity, { ...keys, databasePassword: role.password, databaseRotation: requested });
      await this.deps.applier.sync(renderDatabaseSecret(collectivity, connection));
      await this.deps.events.record(collectivity, "Normal", "DatabaseCredentialsRotated", `database ${database}: the collectivity's role has a new password; its sessions were ended and its workloads restart with the new Secret`);
    } else {
      connection = await this.deps.databases.ensure(database, role, marker);
      await this.deps.applier.sync(renderDatabaseSecret(collectivity, connection));
    }
    return connection;
  }

  private keysSecretName(name: string): string {
    return `tenant-keys-${name}`;
  }

  /** The tenant's keys and passwords, created once and kept in the platform namespace. */
  private async tenantKeys(collectivity: Collectivity): Promise<TenantSecrets> {
    const name = collectivity.metadata!.name!;
    // Read from the API server, not a cache: the operator keeps no secret's content in memory.
    try {
      const existing = readTenantSecrets(await this.deps.client.get<Secret>(resourceTypes.Secret, this.keysSecretName(name), this.deps.platformNamespace));
      if (existing?.complete) return existing.keys;
      if (existing) {
        await this.saveKeys(collectivity, existing.keys);
        return existing.keys;
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const role = newDatabaseRole("tenant");
    const keys: TenantSecrets = { ...newTenantKeys(), databaseUser: role.user, databasePassword: role.password };
    await this.saveKeys(collectivity, keys);
    return keys;
  }

  private async saveKeys(collectivity: Collectivity, keys: TenantSecrets): Promise<void> {
    const name = collectivity.metadata!.name!;
    const data: Record<string, string> = {};
    for (const field of secretFields) {
      const value = keys[field];
      if (value) data[field] = Buffer.from(value).toString("base64");
    }
    // No owner reference: with deletionPolicy Retain the keys outlive the Collectivity, so a
    // Collectivity created again under the same name finds its account and streams again.
    await this.deps.client.apply<Secret>(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: this.keysSecretName(name),
          namespace: this.deps.platformNamespace,
          labels: { [labels.collectivity]: name, [labels.managedBy]: "mutualis-operator" },
        },
        type: "Opaque",
        data,
      } as Secret,
      "mutualis-operator",
    );
  }

  private async ensureFinalizer(collectivity: Collectivity): Promise<Collectivity | undefined> {
    const existing = collectivity.metadata?.finalizers ?? [];
    if (existing.includes(finalizers.tenantCleanup)) return collectivity;
    try {
      return await this.deps.client.mergePatch<Collectivity>(resourceTypes.Collectivity, collectivity.metadata!.name!, undefined, {
        metadata: { finalizers: [...existing, finalizers.tenantCleanup], resourceVersion: collectivity.metadata?.resourceVersion },
      });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async recordTransitions(collectivity: Collectivity, ready: ConditionUpdate): Promise<void> {
    const previous = findCondition(collectivity.status?.conditions as Condition[] | undefined, conditionTypes.ready);
    if (previous?.status === ready.status && previous.reason === ready.reason) return;
    if (ready.status === "True") {
      await this.deps.events.record(collectivity, "Normal", previous?.reason === reasons.suspended ? "Resumed" : "TenantReady", ready.message);
    } else if (ready.reason === reasons.suspended) {
      await this.deps.events.record(collectivity, "Normal", "Suspended", ready.message);
    } else if (ready.reason !== reasons.progressing) {
      await this.deps.events.record(collectivity, "Warning", ready.reason, ready.message);
    }
  }

  /** Applies the deletion policy to data outside the cluster, then lets the Collectivity go. */
  private async finalize(collectivity: Collectivity): Promise<void> {
    const name = collectivity.metadata!.name!;
    if (!(collectivity.metadata?.finalizers ?? []).includes(finalizers.tenantCleanup)) return;
    const policy = collectivity.spec.deletionPolicy ?? "Retain";
    const secret = await this.deps.client
      .get<Secret>(resourceTypes.Secret, this.keysSecretName(name), this.deps.platformNamespace)
      .catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
    const kept = readTenantSecrets(secret);
    const role = kept?.complete ? { user: kept.keys.databaseUser } : undefined;
    if (policy === "Delete") {
      const streams = kept ? await this.deps.nats.deleteTenant(kept.keys) : 0;
      await this.deps.databases.drop(tenantDatabase(name), role);
      if (secret) await this.deps.client.delete(resourceTypes.Secret, this.keysSecretName(name), this.deps.platformNamespace).catch(() => undefined);
      await this.deps.events.record(
        collectivity,
        "Normal",
        "TenantDataDeleted",
        `deletionPolicy Delete: dropped database ${tenantDatabase(name)} and its role, ${streams} message stream(s) and NATS account ${collectivity.status?.natsAccount ?? ""}`.trim(),
      );
    } else {
      // The data stays; no one logs in as its role until a Collectivity of this name comes back.
      if (role) await this.deps.databases.retain(role);
      await this.deps.events.record(
        collectivity,
        "Normal",
        "TenantDataRetained",
        `deletionPolicy Retain: database ${tenantDatabase(name)} (its role may no longer log in) and the streams of NATS account ${collectivity.status?.natsAccount ?? "(none)"} are kept ` +
          `(keys in Secret ${this.deps.platformNamespace}/${this.keysSecretName(name)}); a Collectivity created again as ${name} gets them back`,
      );
    }
    const remaining = (collectivity.metadata?.finalizers ?? []).filter((f) => f !== finalizers.tenantCleanup);
    await this.deps.client
      .mergePatch(resourceTypes.Collectivity, name, undefined, {
        metadata: { finalizers: remaining.length > 0 ? remaining : null, resourceVersion: collectivity.metadata?.resourceVersion },
      })
      .catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
    this.deps.log.info({ collectivity: name, deletionPolicy: policy }, "tenant finalized");
  }
}
