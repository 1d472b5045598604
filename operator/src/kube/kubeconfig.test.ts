import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { inClusterConnection, kubeconfigConnection } from "./kubeconfig.ts";

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = { server: "https://127.0.0.1:16443", "certificate-authority": "ca.crt" }): string {
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
  writeFileSync(join(dir, "ca.crt"), "the CA");
  writeFileSync(join(dir, "token"), "token-1\n");
  const file = join(dir, "config");
  writeFileSync(
    file,
    stringify({
      "current-context": "operator",
      clusters: [{ name: "local", cluster }],
      users: [{ name: "operator", user }],
      contexts: [{ name: "operator", context: { cluster: "local", user: "operator" } }, { name: "other", context: { cluster: "missing", user: "operator" } }],
    }),
  );
  return file;
}

describe("the operator's kubeconfig", () => {
  it("when a kubeconfig names files relative to itself and inline data, then the connection reads both", async () => {
    const file = kubeconfig({ "client-certificate-data": Buffer.from("the certificate").toString("base64"), "client-key": "ca.crt" });
    const connection = kubeconfigConnection(file);
    expect(connection.server).toBe("https://127.0.0.1:16443");
    const credentials = await connection.credentials();
    expect(credentials.ca?.toString()).toBe("the CA");
    expect(credentials.cert?.toString()).toBe("the certificate");
    expect(credentials.key?.toString()).toBe("the CA");
    expect(credentials.headers).toEqual({});
  });

  it("when the user has a token file, then each read of the credentials reads it again (tokens rotate)", async () => {
    const file = kubeconfig({ tokenFile: "token" });
    const connection = kubeconfigConnection(file);
    expect((await connection.credentials()).headers).toEqual({ authorization: "Bearer token-1" });
    writeFileSync(join(file, "../token"), "token-2");
    expect((await connection.credentials()).headers).toEqual({ authorization: "Bearer token-2" });
    // As client-node also reads it, and the local node agent writes it.
    expect((await kubeconfigConnection(kubeconfig({ "token-file": "token" })).credentials()).headers).toEqual({ authorization: "Bearer token-1" });
  });

  it.each([
    [{ exec: { command: "kubectl-oidc" } }, undefined, 'user "operator" authenticates with exec, which the operator does not support'],
    [{ username: "admin", password: "secret" }, undefined, 'user "operator" authenticates with username'],
    [{ token: "t" }, "nowhere", 'no context "nowhere"'],
    [{ token: "t" }, "other", 'context "other" names a cluster "missing" that is not defined'],
  ])("when the kubeconfig cannot be used (%j, context %s), then it says why, and never a secret", (user, context, message) => {
    const read = () => kubeconfigConnection(kubeconfig(user), context);
    expect(read).toThrow(message);
    try {
      read();
    } catch (error) {
      expect(String(error)).not.toContain("secret");
    }
  });

  it("when the operator runs in a pod, then the service account's token and CA are used, and outside a pod it says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "serviceaccount-"));
    writeFileSync(join(dir, "token"), "sa-token");
    writeFileSync(join(dir, "ca.crt"), "cluster CA");
    const connection = inClusterConnection({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, dir);
    expect(connection.server).toBe("https://[fd00::1]:443");
    expect(await connection.credentials()).toEqual({ ca: Buffer.from("cluster CA"), headers: { authorization: "Bearer sa-token" } });
    expect(() => inClusterConnection({}, dir)).toThrow("not in a cluster");
  });
});
