import type { Collectivity } from "@mutualis/api";
import { tenantNamespace } from "../../constants.ts";
import { childMetadata, type Manifest } from "./owner.ts";

const base64 = (text: string | Uint8Array) => Buffer.from(text).toString("base64");

/** The tenant's NATS credentials, for its workloads; the account's keys stay with the operator. */
export function renderNatsSecret(collectivity: Collectivity, natsUrl: string, creds: Uint8Array): Manifest {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMetadata(collectivity, "nats-credentials", tenantNamespace(collectivity.metadata!.name!)),
    type: "Opaque",
    data: { "user.creds": base64(creds), NATS_URL: base64(natsUrl) },
  };
}

/** How the tenant's workloads reach their database. */
export function renderDatabaseSecret(collectivity: Collectivity, uri: string, database: string): Manifest {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMetadata(collectivity, "database", tenantNamespace(collectivity.metadata!.name!)),
    type: "Opaque",
    data: { MONGODB_URI: base64(uri), MONGODB_DATABASE: base64(database) },
  };
}
