import type { OperatorConfig } from "./config.ts";
import { setupCollectivityController } from "./controllers/collectivity/index.ts";
import { setupSecureShareController } from "./controllers/secure-share/index.ts";
import { setupServiceInstanceController } from "./controllers/service-instance/index.ts";
import { KubeClient } from "./kube/client.ts";
import type { Logger } from "./runtime/log.ts";
import { Manager } from "./runtime/manager.ts";
import { ensurePlatformObjects } from "./platform-setup.ts";
import { Databases } from "./tenancy/databases.ts";
import { keyPair, NatsAccounts } from "./tenancy/nats-accounts.ts";
import { ensurePlatformDatabases, ensurePlatformServices } from "./tenancy/platform-services.ts";
import { PlatformToken } from "./tenancy/platform-token.ts";

export interface RunningOperator {
  readonly manager: Manager;
  stop(): Promise<void>;
}

/** Builds and starts the operator: platform objects, informers, controllers, leader election. */
export async function startOperator(config: OperatorConfig, log: Logger): Promise<RunningOperator> {
  const client = KubeClient.connect(config.kubeconfig);
  if (config.platformObjects) await ensurePlatformObjects(client, config.platformNamespace, config.zones);

  const nats = new NatsAccounts(config.natsUrl, keyPair(config.natsOperatorSeed), config.natsSystemCreds);
  await ensurePlatformServices(client, nats, config.platformNamespace);
  const databases = new Databases({ uri: config.mongodbUri, postgresUrl: config.databaseAdminUrl });
  await ensurePlatformDatabases(client, databases, config.platformNamespace);
  const manager = new Manager(client, log, {
    httpPort: config.httpPort,
    httpHost: config.httpHost,
    resyncMs: config.resyncMs,
    ...(config.leaderElection ? { leaderElection: { namespace: config.platformNamespace, name: "mutualis-operator" } } : {}),
  });
  setupCollectivityController(manager, {
    workers: config.workers,
    nats,
    natsUrlForTenants: config.natsUrlForTenants,
    databases,
    network: { platformNamespace: config.platformNamespace, natsPort: config.natsPortForPolicies, databasePort: config.databasePortForPolicies },
    platformNamespace: config.platformNamespace,
    zones: new Set(config.zones),
  });
  setupServiceInstanceController(manager, { workers: config.workers, nats, gatewayUrl: config.gatewayUrl, servicesImage: config.servicesImage, natsStreamReplicas: config.natsStreamReplicas, ...(config.identity ? { identity: config.identity } : {}) });
  setupSecureShareController(manager, { workers: config.workers, nats, ...(config.identity?.clientSecret ? { token: new PlatformToken({ ...config.identity, clientSecret: config.identity.clientSecret }) } : {}) });
  await manager.start();
  return {
    manager,
    stop: async () => {
      await manager.stop();
      await nats.close();
      await databases.close();
    },
  };
}
