import type { SecureShare } from "@mutualis/api";
import { resourceTypes } from "../../kube/resources.ts";
import { Controller } from "../../runtime/controller.ts";
import type { Manager } from "../../runtime/manager.ts";
import type { NatsAccounts } from "../../tenancy/nats-accounts.ts";
import type { PlatformToken } from "../../tenancy/platform-token.ts";
import { ServiceClient } from "../../tenancy/service-client.ts";
import { SecureShareReconciler } from "./reconciler.ts";

export interface SecureShareControllerOptions {
  readonly workers: number;
  readonly nats: NatsAccounts;
  readonly token?: PlatformToken;
}

export function setupSecureShareController(manager: Manager, options: SecureShareControllerOptions): Controller {
  const shares = manager.informer<SecureShare>(resourceTypes.SecureShare);
  const services = new ServiceClient(() => options.nats.servicesNats(), options.token);
  const reconciler = new SecureShareReconciler({ client: manager.client, events: manager.events, shares, services });
  const controller = new Controller({ name: "secureshare", workers: options.workers }, reconciler, manager.metrics, manager.log);
  controller.watchPrimary(shares);
  manager.addController(controller);
  return controller;
}
