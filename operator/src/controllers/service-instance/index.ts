import type { Collectivity, ServiceInstance } from "@mutualis/api";
import { resourceTypes } from "../../kube/resources.ts";
import { Controller } from "../../runtime/controller.ts";
import type { Manager } from "../../runtime/manager.ts";
import type { NatsAccounts } from "../../tenancy/nats-accounts.ts";
import { ServiceInstanceReconciler } from "./reconciler.ts";

export interface ServiceInstanceControllerOptions {
  readonly workers: number;
  readonly nats: NatsAccounts;
  readonly gatewayUrl: string;
}

export function setupServiceInstanceController(manager: Manager, options: ServiceInstanceControllerOptions): Controller {
  const instances = manager.informer<ServiceInstance>(resourceTypes.ServiceInstance);
  const collectivities = manager.informer<Collectivity>(resourceTypes.Collectivity);
  const reconciler = new ServiceInstanceReconciler({
    client: manager.client,
    events: manager.events,
    instances,
    collectivities,
    nats: options.nats,
    gatewayUrl: options.gatewayUrl,
  });
  const controller = new Controller({ name: "serviceinstance", workers: options.workers }, reconciler, manager.metrics, manager.log);
  controller.watchPrimary(instances);
  // When a Collectivity changes (becomes Ready, imports a service), its instances are looked at again.
  controller.watchMapped(collectivities, (c) => instances.list(`coll-${c.metadata!.name}`).map((si) => `${si.metadata!.namespace}/${si.metadata!.name}`));
  manager.addController(controller);
  return controller;
}
