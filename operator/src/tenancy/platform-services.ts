import type { KubernetesObject } from "@kubernetes/client-node";
import { serviceNames } from "@mutualis/api";
import { serviceDatabaseSecret, serviceNatsSecret, sharedServiceDatabases, type SharedServiceName } from "@mutualis/cdk8s";
import { createUser } from "@nats-io/nkeys";
import { platformUsers, type PlatformUser } from "../catalogue.ts";
import { fieldManager, labels } from "../constants.ts";
import type { KubeClient } from "../kube/client.ts";
import { isNotFound } from "../kube/errors.ts";
import { resourceTypes } from "../kube/resources.ts";
import { newDatabaseRole, type DatabaseRole, type Databases } from "./databases.ts";
import { keyPair, newTenantKeys, type NatsAccounts, type PlatformServicesKeys } from "./nats-accounts.ts";

interface Secret extends KubernetesObject {
  data?: Record<string, string>;
}

export const servicesKeysSecret = "platform-services-keys";

const b64 = (text: string | Uint8Array) => Buffer.from(text).toString("base64");
const text = (value: string | undefined) => (value ? Buffer.from(value, "base64").toString("utf8") : undefined);
const newUserSeed = () => new TextDecoder().decode(createUser().getSeed());
const common = { [labels.managedBy]: "mutualis-operator", [labels.partOf]: "mutualis" };

/** A Secret of the platform namespace, as data (empty when there is none). */
async function keptData(client: KubeClient, name: string, namespace: string): Promise<Record<string, string>> {
  try {
    return (await client.get<Secret>(resourceTypes.Secret, name, namespace)).data ?? {};
  } catch (error) {
    if (isNotFound(error)) return {};
    throw error;
  }
}

/** Writes a Secret of the platform namespace, the operator's own (its values already base64). */
function writeSecret(client: KubeClient, name: string, namespace: string, data: Record<string, string>, component?: string): Promise<unknown> {
  const metadata = { name, namespace, labels: { ...common, ...(component ? { [labels.component]: component } : {}) } };
  return client.apply<Secret>({ apiVersion: "v1", kind: "Secret", metadata, type: "Opaque", data } as Secret, fieldManager);
}

/**
 * Sets up the platform services account (keys kept in the platform namespace, created once), one
 * user per shared deployment and one for the operator, each with the catalogue's permissions, and
 * the Secret of creds each shared deployment mounts (`nats-<service>`).
 */
export async function ensurePlatformServices(client: KubeClient, nats: NatsAccounts, namespace: string): Promise<{ accountPublicKey: string; users: Map<PlatformUser, Uint8Array> }> {
  const kept = await keptData(client, servicesKeysSecret, namespace);
  const accountSeed = text(kept.accountSeed) ?? newTenantKeys().accountSeed;
  const userSeeds = Object.fromEntries(Object.keys(platformUsers).map((user) => [user, text(kept[`${user}.seed`]) ?? newUserSeed()])) as Record<PlatformUser, string>;
  // The one user every deployment once shared (`userSeed`): revoked from now on.
  const retired = text(kept.userSeed);
  const keys: PlatformServicesKeys = { accountSeed, userSeeds, ...(retired ? { retiredUser: keyPair(retired).getPublicKey() } : {}) };
  const data: Record<string, string> = { accountSeed: b64(accountSeed), ...(retired ? { userSeed: kept.userSeed! } : {}) };
  for (const [user, seed] of Object.entries(userSeeds)) data[`${user}.seed`] = b64(seed);
  // Saved before any user is issued: a user whose seed were lost could never be renewed.
  if (Object.entries(data).some(([key, value]) => kept[key] !== value) || Object.keys(kept).length !== Object.keys(data).length) {
    await writeSecret(client, servicesKeysSecret, namespace, data);
  }
  const services = await nats.ensurePlatformServices(keys, serviceNames);
  for (const [user, creds] of services.users) {
    if (user === "operator") continue; // its own creds stay in its memory
    await writeSecret(client, serviceNatsSecret(user), namespace, { "user.creds": b64(creds) }, user);
  }
  // The shared creds of before: their user is revoked, and the Secret goes.
  await client.delete(resourceTypes.Secret, retiredServicesCredsSecret, namespace).catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
  return services;
}

/** The Secret of creds all shared deployments once mounted. */
export const retiredServicesCredsSecret = "platform-services-nats";

/** The shared services' database roles, made once and kept in the platform namespace. */
export const servicesDatabaseRolesSecret = "platform-database-roles";

/**
 * Gives each shared service a database owned by a role of its own, and writes its address to the
 * Secret `database-<service>` its deployment reads: a flaw in one service reaches no other's data
 * and no collectivity's.
 */
export async function ensurePlatformDatabases(client: KubeClient, databases: Databases, namespace: string): Promise<void> {
  const kept = await keptData(client, servicesDatabaseRolesSecret, namespace);
  const roles = new Map<string, DatabaseRole>();
  for (const service of Object.keys(sharedServiceDatabases)) {
    const user = text(kept[`${service}.user`]);
    const password = text(kept[`${service}.password`]);
    roles.set(service, user && password ? { user, password } : newDatabaseRole("service"));
  }
  const data: Record<string, string> = {};
  for (const [service, role] of roles) Object.assign(data, { [`${service}.user`]: b64(role.user), [`${service}.password`]: b64(role.password) });
  // Saved before any role is made: a role made and then forgotten could never be handed out again.
  await writeSecret(client, servicesDatabaseRolesSecret, namespace, data);
  for (const [service, role] of roles) {
    const connection = await databases.ensure(sharedServiceDatabases[service as SharedServiceName], role, { service });
    await writeSecret(
      client,
      serviceDatabaseSecret(service),
      namespace,
      { MONGODB_URI: b64(connection.uri), MONGODB_DATABASE: b64(connection.database), ...(connection.caPem ? { MONGODB_CA: b64(connection.caPem) } : {}) },
      service,
    );
  }
}
