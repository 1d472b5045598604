import type { SecureShare } from "@mutualis/api";
import { resourceTypes } from "../../kube/resources.ts";
import { Controller } from "../../runtime/controller.ts";
import type { Manager } from "../../runtime/manager.ts";
import type { NatsAccounts } from "../../tenancy/nats-accounts.ts";
import type { PlatformToken } from "../../tenancy/platform-token.ts";
import { SecureShareReconciler } from "./reconciler.ts";

export interface SecureShareControllerOptions {
  readonly workers: number;
  readonly nats: NatsAccounts;
  readonly token?: PlatformToken;
}

export function setupSecureShareController(manager: Manager, options: SecureShareControllerOptions): Controller {
  const shares = manager.informer<SecureShare>(resourceTypes.SecureShare);
  const reconciler = new SecureShareReconciler({ client: manager.client, events: manager.events, shares, nats: options.nats, ...(options.token ? { token: options.token } : {}) });
  const controller = new Controller({ name: "secureshare", workers: options.workers }, reconciler, manager.metrics, manager.log);
  controller.watchPrimary(shares);
  manager.addController(controller);
  return controller;
}
