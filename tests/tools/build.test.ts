import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "@mutualis/local-platform";

const { root, binDir } = loadConfig();
const run = (command: string, ...args: string[]) =>
  execFileSync(command, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

describe("the pinned upstream programs", () => {
  it("when they are built again with unchanged pins, then nothing is rebuilt", () => {
    const output = run(join(root, "tools/build.sh"));
    expect(output).not.toMatch(/building/);
    for (const tool of ["k8s", "etcd", "kwok", "nats-server", "ferretdb"]) {
      expect(output).toContain(`tools: ${tool} is up to date`);
    }
  });

  it("when asked their version, then they report the pinned one", () => {
    const bin = (name: string) => join(binDir, name);
    expect(run(bin("kube-apiserver"), "--version")).toContain("Kubernetes v1.36.3");
    expect(run(bin("kubectl"), "version", "--client")).toContain("Client Version: v1.36.3");
    expect(run(bin("etcd"), "--version")).toContain("etcd Version: 3.6.16");
    expect(run(bin("nats-server"), "--version")).toContain("v2.14.9");
    expect(run(bin("ferretdb"), "--version")).toContain("version: v1.24.2");
    expect(run(bin("kwok"), "--version")).toContain("0.8.0");
  });
});
