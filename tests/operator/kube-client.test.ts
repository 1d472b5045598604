import { describe, expect, it } from "vitest";
import { KubeClient, resourceTypes } from "@mutualis/operator";
import { testPlatform } from "../support/platform.ts";

const platform = testPlatform();

describe("the operator's REST client", () => {
  it("when a DELETE with a body is followed by other requests on the kept-alive connection, then they are all understood", async () => {
    const client = KubeClient.fromKubeConfig(platform.kubeConfig());
    try {
      for (let i = 0; i < 5; i++) {
        const name = `client-test-${i}`;
        await client.create(resourceTypes.ConfigMap, { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "default" } });
        await client.delete(resourceTypes.ConfigMap, name, "default");
        // Before the fix, the DELETE's body had no Content-Length and this request got "400 Bad Request".
        const list = await client.list(resourceTypes.ConfigMap, { namespace: "default" });
        expect(list.items.map((c) => c.metadata?.name)).not.toContain(name);
      }
    } finally {
      client.close();
    }
  });

  it("when a request fails, then the error carries the API server's status and reason", async () => {
    const client = KubeClient.fromKubeConfig(platform.kubeConfig());
    try {
      await expect(client.get(resourceTypes.ConfigMap, "does-not-exist", "default")).rejects.toMatchObject({ status: 404, reason: "NotFound" });
    } finally {
      client.close();
    }
  });
});
