import type { KubernetesObject } from "@kubernetes/client-node";
import { departementOf, type Collectivity, type ServiceInstance } from "@mutualis/api";
import { Gauge } from "prom-client";
import { childCache, conditionTypes, fieldManager, labels } from "../../constants.ts";
import { resourceTypes } from "../../kube/resources.ts";
import { Applier } from "../../runtime/apply.ts";
import { findCondition, type Condition } from "../../runtime/conditions.ts";
import { Controller } from "../../runtime/controller.ts";
import type { Manager } from "../../runtime/manager.ts";
import type { Databases } from "../../tenancy/databases.ts";
import type { NatsAccounts } from "../../tenancy/nats-accounts.ts";
import type { PlatformNetwork } from "./render.ts";
import { effectiveInstances } from "../service-instance/reconciler.ts";
import { CollectivityReconciler } from "./reconciler.ts";

export interface CollectivityControllerOptions {
  readonly workers: number;
  readonly nats: NatsAccounts;
  readonly natsUrlForTenants: string;
  readonly databases: Databases;
  readonly network: PlatformNetwork;
  readonly platformNamespace: string;
  readonly zones: ReadonlySet<string>;
}

/** Kinds the operator keeps per tenant: a change or deletion of one re-queues its Collectivity. */
const ownedKinds = [
  resourceTypes.Namespace,
  resourceTypes.ResourceQuota,
  resourceTypes.LimitRange,
  resourceTypes.NetworkPolicy,
  resourceTypes.Role,
  resourceTypes.RoleBinding,
  resourceTypes.Secret,
];

export function setupCollectivityController(manager: Manager, options: CollectivityControllerOptions): Controller {
  const collectivities = manager.informer<Collectivity>(resourceTypes.Collectivity);
  const instances = manager.informer<ServiceInstance>(resourceTypes.ServiceInstance);
  // Only the objects the operator labels, and only their metadata: the cache never holds a
  // secret's content, and costs a few hundred bytes per object (the applier compares hashes).
  const children = new Map(
    ownedKinds.map((type) => [`${type.apiVersion}/${type.kind}`, manager.informer<KubernetesObject>(type, childCache)]),
  );
  const applier = new Applier(manager.client, fieldManager, [...children.values()]);
  const servicesOf = (name: string, tenancy: "shared" | "dedicated") =>
    effectiveInstances(instances.list(`coll-${name}`))
      .filter((si) => (si.spec.tenancy ?? "shared") === tenancy)
      .map((si) => si.spec.service);
  const reconciler = new CollectivityReconciler({
    client: manager.client,
    applier,
    events: manager.events,
    log: manager.log.child({ controller: "collectivity" }),
    collectivities,
    nats: options.nats,
    natsUrlForTenants: options.natsUrlForTenants,
    databases: options.databases,
    network: options.network,
    platformNamespace: options.platformNamespace,
    zones: () => options.zones,
    sharedServices: (name) => servicesOf(name, "shared"),
    dedicatedServices: (name) => servicesOf(name, "dedicated"),
  });
  const controller = new Controller({ name: "collectivity", workers: options.workers }, reconciler, manager.metrics, manager.log);
  controller.watchPrimary(collectivities);
  // A ServiceInstance added or removed changes what the collectivity's NATS account imports.
  // Only what the imports depend on counts: not the instances' status or finalizer writes.
  controller.watchMapped(
    instances,
    (si) => (si.metadata?.namespace?.startsWith("coll-") ? [si.metadata.namespace.slice("coll-".length)] : []),
    (si, old) =>
      si.spec.service !== old.spec.service || si.spec.tenancy !== old.spec.tenancy || Boolean(si.metadata?.deletionTimestamp) !== Boolean(old.metadata?.deletionTimestamp),
  );
  for (const informer of children.values()) {
    controller.watchOwned(informer, "Collectivity");
    // The keys Secret in the platform namespace has no owner (it may outlive the tenant).
    controller.watchMapped(informer, (object) =>
      object.kind === "Secret" && object.metadata?.namespace === options.platformNamespace && object.metadata.labels?.[labels.collectivity]
        ? [object.metadata.labels[labels.collectivity]!]
        : [],
    );
  }
  manager.addController(controller);

  new Gauge({
    name: "mutualis_collectivities",
    help: "Collectivities by the status and reason of their Ready condition.",
    labelNames: ["condition", "status", "reason"] as const,
    registers: [manager.metrics.registry],
    collect() {
      this.reset();
      for (const c of collectivities.list()) {
        const ready = findCondition(c.status?.conditions as Condition[] | undefined, conditionTypes.ready);
        this.inc({ condition: conditionTypes.ready, status: ready?.status ?? "Unknown", reason: ready?.reason ?? "Pending" });
      }
    },
  });
  new Gauge({
    name: "mutualis_collectivity_info",
    help: "One series per collectivity, always 1, carrying what the observatory shows of it.",
    labelNames: ["collectivity", "display_name", "category", "departement", "zone"] as const,
    registers: [manager.metrics.registry],
    collect() {
      this.reset();
      for (const c of collectivities.list()) {
        this.set({ collectivity: c.metadata!.name!, display_name: c.spec.displayName, category: c.spec.category, departement: departementOf(c.spec.siren), zone: c.spec.zone ?? "" }, 1);
      }
    },
  });
  new Gauge({
    name: "mutualis_tenants",
    help: "Tenants (Collectivities) per hosting zone.",
    labelNames: ["zone"] as const,
    registers: [manager.metrics.registry],
    collect() {
      this.reset();
      for (const c of collectivities.list()) this.inc({ zone: c.spec.zone });
    },
  });
  return controller;
}
