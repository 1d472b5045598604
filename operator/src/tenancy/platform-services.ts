import type { KubernetesObject } from "@kubernetes/client-node";
import { serviceNames } from "@mutualis/api";
import { serviceDatabaseSecret, sharedServiceDatabases, type SharedServiceName } from "@mutualis/cdk8s";
import { fieldManager, labels } from "../constants.ts";
import type { KubeClient } from "../kube/client.ts";
import { isNotFound } from "../kube/errors.ts";
import { resourceTypes } from "../kube/resources.ts";
import { newDatabaseRole, type DatabaseRole, type Databases } from "./databases.ts";
import { newTenantKeys, type NatsAccounts, type TenantKeys } from "./nats-accounts.ts";

interface Secret extends KubernetesObject {
  data?: Record<string, string>;
}

export const servicesKeysSecret = "platform-services-keys";
/** The creds the shared service deployments mount. */
export const servicesCredsSecret = "platform-services-nats";

const b64 = (text: string | Uint8Array) => Buffer.from(text).toString("base64");
const text = (value: string | undefined) => (value ? Buffer.from(value, "base64").toString("utf8") : undefined);

/**
 * Sets up the platform services account (keys kept in the platform namespace, created once) and
 * the Secret of creds the shared deployments use.
 */
export async function ensurePlatformServices(client: KubeClient, nats: NatsAccounts, namespace: string): Promise<string> {
  let keys: TenantKeys | undefined;
  try {
    const secret = await client.get<Secret>(resourceTypes.Secret, servicesKeysSecret, namespace);
    if (secret.data?.accountSeed && secret.data.userSeed) keys = { accountSeed: text(secret.data.accountSeed)!, userSeed: text(secret.data.userSeed)! };
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const common = { [labels.managedBy]: "mutualis-operator", [labels.partOf]: "mutualis" };
  if (!keys) {
    keys = newTenantKeys();
    await client.apply<Secret>(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: servicesKeysSecret, namespace, labels: common },
        type: "Opaque",
        data: { accountSeed: b64(keys.accountSeed), userSeed: b64(keys.userSeed) },
      } as Secret,
      fieldManager,
    );
  }
  const services = await nats.ensurePlatformServices(keys, serviceNames);
  await client.apply<Secret>(
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: servicesCredsSecret, namespace, labels: common },
      type: "Opaque",
      data: { "user.creds": b64(services.userCreds) },
    } as Secret,
    fieldManager,
  );
  return services.accountPublicKey;
}

/** The shared services' database roles, made once and kept in the platform namespace. */
export const servicesDatabaseRolesSecret = "platform-database-roles";

/**
 * Gives each shared service a database owned by a role of its own, and writes its address to the
 * Secret `database-<service>` its deployment reads: a flaw in one service reaches no other's data
 * and no collectivity's.
 */
export async function ensurePlatformDatabases(client: KubeClient, databases: Databases, namespace: string): Promise<void> {
  const common = { [labels.managedBy]: "mutualis-operator", [labels.partOf]: "mutualis" };
  let kept: Record<string, string> = {};
  try {
    kept = (await client.get<Secret>(resourceTypes.Secret, servicesDatabaseRolesSecret, namespace)).data ?? {};
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const roles = new Map<string, DatabaseRole>();
  for (const service of Object.keys(sharedServiceDatabases)) {
    const user = text(kept[`${service}.user`]);
    const password = text(kept[`${service}.password`]);
    roles.set(service, user && password ? { user, password } : newDatabaseRole("service"));
  }
  const data: Record<string, string> = {};
  for (const [service, role] of roles) Object.assign(data, { [`${service}.user`]: b64(role.user), [`${service}.password`]: b64(role.password) });
  // Saved before any role is made: a role made and then forgotten could never be handed out again.
  await client.apply<Secret>(
    { apiVersion: "v1", kind: "Secret", metadata: { name: servicesDatabaseRolesSecret, namespace, labels: common }, type: "Opaque", data } as Secret,
    fieldManager,
  );
  for (const [service, role] of roles) {
    const connection = await databases.ensure(sharedServiceDatabases[service as SharedServiceName], role, { service });
    await client.apply<Secret>(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: serviceDatabaseSecret(service), namespace, labels: { ...common, [labels.component]: service } },
        type: "Opaque",
        data: {
          MONGODB_URI: b64(connection.uri),
          MONGODB_DATABASE: b64(connection.database),
          ...(connection.caPem ? { MONGODB_CA: b64(connection.caPem) } : {}),
        },
      } as Secret,
      fieldManager,
    );
  }
}
