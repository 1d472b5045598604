import { describe, expect, it } from "vitest";
import { ConfigurationError, resolveEnv, type SourceLookup } from "./env.ts";

const lookup: SourceLookup = {
  secret: async (name) => (name === "database" ? { MONGODB_URI: "mongodb://db", PASSWORD: "s3cret" } : undefined),
  configMap: async (name) => (name === "settings" ? { LOG_LEVEL: "debug", REGION: "fr-bzh" } : undefined),
};
const fields = { "metadata.name": "actes-1", "status.podIP": "127.42.0.2" };

describe("resolveEnv", () => {
  it("when a container names values, Secret and ConfigMap keys and pod fields, then its environment has them all, later entries winning", async () => {
    const env = await resolveEnv(
      {
        envFrom: [{ configMapRef: { name: "settings" } }, { prefix: "DB_", secretRef: { name: "database" } }],
        env: [
          { name: "LOG_LEVEL", value: "info" },
          { name: "MONGODB_URI", valueFrom: { secretKeyRef: { name: "database", key: "MONGODB_URI" } } },
          { name: "HTTP_HOST", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
          { name: "GREETING", value: "$(REGION)-$(UNKNOWN)-$$(REGION)" },
        ],
      },
      fields,
      lookup,
    );
    expect(env).toEqual({
      LOG_LEVEL: "info",
      REGION: "fr-bzh",
      DB_MONGODB_URI: "mongodb://db",
      DB_PASSWORD: "s3cret",
      MONGODB_URI: "mongodb://db",
      HTTP_HOST: "127.42.0.2",
      GREETING: "fr-bzh-$(UNKNOWN)-$(REGION)",
    });
  });

  it("when a Secret or a key is missing, then the container cannot be configured, with the kubelet's message, unless it is optional", async () => {
    await expect(resolveEnv({ env: [{ name: "X", valueFrom: { secretKeyRef: { name: "nope", key: "k" } } }] }, fields, lookup)).rejects.toThrow(
      new ConfigurationError('secret "nope" not found'),
    );
    await expect(resolveEnv({ env: [{ name: "X", valueFrom: { secretKeyRef: { name: "database", key: "k" } } }] }, fields, lookup)).rejects.toThrow(
      'couldn\'t find key k in secret "database"',
    );
    expect(await resolveEnv({ env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "nope", key: "k", optional: true } } }] }, fields, lookup)).toEqual({});
  });
});
