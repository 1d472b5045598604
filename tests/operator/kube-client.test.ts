import { describe, expect, it } from "vitest";
import { Applier, createLogger, desiredHashAnnotation, Informer, KubeClient, resourceTypes } from "@mutualis/operator";
import { eventually, testPlatform } from "../support/platform.ts";

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

describe("metadata-only caches and the applier's hashes, against the API server", () => {
  const labelled = { "mutualis.fr/collectivity": "cache-test" };

  it("when Secrets are cached as metadata only, then the cache holds their labels and hash, never their content", async () => {
    const client = KubeClient.fromKubeConfig(platform.kubeConfig());
    const informer = new Informer(client, resourceTypes.Secret, createLogger("test", "silent"), { labelSelector: "mutualis.fr/collectivity=cache-test", metadataOnly: true });
    const applier = new Applier(client, "cache-test", [informer]);
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "cache-test", namespace: "default", labels: labelled }, type: "Opaque", data: { password: Buffer.from("s3cret").toString("base64") } };
    try {
      informer.start();
      await informer.waitForSync();
      await applier.sync(secret);
      const cached = await eventually("the Secret in the cache", async () => informer.get("cache-test", "default"));
      expect(cached).toMatchObject({ apiVersion: "v1", kind: "Secret", metadata: { labels: labelled, annotations: { [desiredHashAnnotation]: expect.any(String) } } });
      expect(JSON.stringify(cached)).not.toContain(secret.data.password);
      expect(Object.keys(cached)).toEqual(["apiVersion", "kind", "metadata"]);
    } finally {
      await informer.stop();
      await client.delete(resourceTypes.Secret, "cache-test", "default").catch(() => undefined);
      client.close();
    }
  });

  it("when an object is in place, then a new applier (a restart) writes nothing; when someone edits it, then it is put back", async () => {
    const client = KubeClient.fromKubeConfig(platform.kubeConfig());
    const verbs: string[] = [];
    client.observe((verb) => verbs.push(verb));
    const informer = new Informer(client, resourceTypes.ConfigMap, createLogger("test", "silent"), { labelSelector: "mutualis.fr/collectivity=cache-test", metadataOnly: true });
    const desired = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cache-test", namespace: "default", labels: labelled }, data: { quota: "20" } };
    const versionIs = (version: string | undefined) => eventually("the cache to catch up", async () => (informer.get("cache-test", "default")?.metadata?.resourceVersion === version ? true : undefined));
    try {
      informer.start();
      await informer.waitForSync();
      expect(await new Applier(client, "cache-test", [informer]).sync(desired)).toBe("applied");
      const applied = await client.get(resourceTypes.ConfigMap, "cache-test", "default");
      await versionIs(applied.metadata?.resourceVersion);

      verbs.length = 0;
      const restarted = new Applier(client, "cache-test", [informer]);
      expect(await restarted.sync(desired)).toBe("unchanged");
      expect(await restarted.sync(desired)).toBe("unchanged");
      expect(verbs).toEqual(["GET"]);

      const edited = await client.mergePatch(resourceTypes.ConfigMap, "cache-test", "default", { data: { quota: "999" } });
      await versionIs(edited.metadata?.resourceVersion);
      expect(await restarted.sync(desired)).toBe("applied");
      expect((await client.get<typeof desired>(resourceTypes.ConfigMap, "cache-test", "default")).data).toEqual({ quota: "20" });
    } finally {
      await informer.stop();
      await client.delete(resourceTypes.ConfigMap, "cache-test", "default").catch(() => undefined);
      client.close();
    }
  });
});
