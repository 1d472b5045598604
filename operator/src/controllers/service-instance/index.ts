import type { KubernetesObject } from "@kubernetes/client-node";
import type { Collectivity, ServiceInstance } from "@mutualis/api";
import { childCache, conditionTypes, fieldManager, labels } from "../../constants.ts";
import { Applier } from "../../runtime/apply.ts";
import { resourceTypes } from "../../kube/resources.ts";
import { Controller } from "../../runtime/controller.ts";
import type { Manager } from "../../runtime/manager.ts";
import type { NatsAccounts } from "../../tenancy/nats-accounts.ts";
import { TenantDatabaseCredentials, TenantNatsCredentials } from "@mutualis/cdk8s";
import { ServiceClient } from "../../tenancy/service-client.ts";
import { ServiceInstanceReconciler } from "./reconciler.ts";
import { Gauge } from "prom-client";
import { findCondition, type Condition } from "../../runtime/conditions.ts";

export interface ServiceInstanceControllerOptions {
  readonly workers: number;
  readonly nats: NatsAccounts;
  readonly gatewayUrl: string;
  readonly servicesImage: string;
  readonly natsStreamReplicas?: number;
  readonly identity?: { readonly issuer: string; readonly ca?: string };
}

export function setupServiceInstanceController(manager: Manager, options: ServiceInstanceControllerOptions): Controller {
  const instances = manager.informer<ServiceInstance>(resourceTypes.ServiceInstance);
  const collectivities = manager.informer<Collectivity>(resourceTypes.Collectivity);
  // The dedicated instances' objects carry the collectivity label, like the tenant's other children.
  // Deployments whole (their status says whether the instance is ready); the others' metadata.
  const owned = [
    manager.informer<KubernetesObject>(resourceTypes.Deployment, { labelSelector: labels.collectivity }),
    manager.informer<KubernetesObject>(resourceTypes.Service, childCache),
    manager.informer<KubernetesObject>(resourceTypes.PodDisruptionBudget, childCache),
  ];
  // The collectivity controller's cache of the tenants' Secrets (the same informer: one cache).
  const secrets = manager.informer<KubernetesObject>(resourceTypes.Secret, childCache);
  const applier = new Applier(manager.client, fieldManager, owned);
  const reconciler = new ServiceInstanceReconciler({
    applier,
    deployments: owned[0]!,
    secrets,
    servicesImage: options.servicesImage,
    natsStreamReplicas: options.natsStreamReplicas ?? 1,
    ...(options.identity ? { identity: options.identity } : {}),
    client: manager.client,
    events: manager.events,
    instances,
    collectivities,
    nats: options.nats,
    services: new ServiceClient(() => options.nats.servicesNats()),
    gatewayUrl: options.gatewayUrl,
  });
  const controller = new Controller({ name: "serviceinstance", workers: options.workers }, reconciler, manager.metrics, manager.log);
  controller.watchPrimary(instances);
  // Another instance of the same service coming or going decides which one provides it.
  controller.watchMapped(
    instances,
    (si) => instances.list(si.metadata?.namespace).filter((o) => o.spec.service === si.spec.service && o.metadata?.uid !== si.metadata?.uid).map((o) => `${o.metadata!.namespace}/${o.metadata!.name}`),
    (si, old) => Boolean(si.metadata?.deletionTimestamp) !== Boolean(old.metadata?.deletionTimestamp),
  );
  for (const informer of owned) controller.watchOwned(informer, "ServiceInstance", true);
  // New NATS or database credentials for a collectivity: its dedicated pods must start again with them.
  controller.watchMapped(secrets, (secret) =>
    secret.metadata?.name === TenantNatsCredentials.secretName || secret.metadata?.name === TenantDatabaseCredentials.secretName
      ? instances.list(secret.metadata.namespace).filter((si) => si.spec.tenancy === "dedicated").map((si) => `${si.metadata!.namespace}/${si.metadata!.name}`) : [],
  );
  // When a Collectivity changes (becomes Ready, imports a service), its instances are looked at again.
  controller.watchMapped(collectivities, (c) => instances.list(`coll-${c.metadata!.name}`).map((si) => `${si.metadata!.namespace}/${si.metadata!.name}`));
  manager.addController(controller);

  new Gauge({
    name: "mutualis_service_instances",
    help: "ServiceInstances per collectivity, service and tenancy, by whether they are Ready (the observatory's active services).",
    labelNames: ["collectivity", "service", "tenancy", "ready"] as const,
    registers: [manager.metrics.registry],
    collect() {
      this.reset();
      for (const si of instances.list()) {
        const namespace = si.metadata?.namespace ?? "";
        if (!namespace.startsWith("coll-")) continue;
        const ready = findCondition(si.status?.conditions as Condition[] | undefined, conditionTypes.ready)?.status === "True";
        this.inc({ collectivity: namespace.slice("coll-".length), service: si.spec.service, tenancy: si.spec.tenancy ?? "shared", ready: String(ready) });
      }
    },
  });
  return controller;
}
