import type { KubernetesObject } from "@kubernetes/client-node";
import { serviceNames } from "@mutualis/api";
import { fieldManager, labels } from "../constants.ts";
import type { KubeClient } from "../kube/client.ts";
import { isNotFound } from "../kube/errors.ts";
import { resourceTypes } from "../kube/resources.ts";
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
