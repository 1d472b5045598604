import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { layout } from "@mutualis/local-platform";
import { lotManifests, lotProfiles, type Manifest } from "@mutualis/cdk8s";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testPlatform } from "../support/platform.ts";

const run = promisify(execFile);
const platform = testPlatform();
const kubectl = (...args: string[]) => run(layout(platform.config).bin("kubectl"), ["--kubeconfig", platform.env.KUBECONFIG, ...args], { maxBuffer: 16 * 1024 * 1024 });
const root = join(import.meta.dirname, "../..");

// Pod specs are plain JSON here: reading them as such keeps the checks short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** The pod template of a workload, and where it runs. */
function podTemplates(objects: readonly Manifest[]): { owner: string; namespace: string; template: Json; claims: string[] }[] {
  return objects
    .filter((o) => ["Deployment", "StatefulSet"].includes(o.kind))
    .map((o) => ({
      owner: `${o.kind}/${o.metadata.name}`,
      namespace: o.metadata.namespace!,
      template: (o as Json).spec.template,
      claims: (((o as Json).spec.volumeClaimTemplates ?? []) as Json[]).map((c) => c.metadata.name as string),
    }));
}

describe("the hosting lot (cdk8s)", () => {
  const synthesised = mkdtempSync(join(tmpdir(), "mutualis-lot-"));

  beforeAll(async () => {
    await run(process.execPath, ["--import", "tsx", join(root, "cdk8s/src/lot/main.ts"), "--out", synthesised], { cwd: root });
    // The platform namespace exists (the operator made it); the monitoring one is the lot's own.
    await kubectl("create", "namespace", "mutualis-monitoring").catch(() => undefined);
  }, 120_000);

  afterAll(async () => {
    await kubectl("delete", "namespace", "mutualis-monitoring", "lot-pod-security", "--ignore-not-found", "--wait=false").catch(() => undefined);
  });

  it.each(Object.keys(lotProfiles))("when the %s lot is synthesised, then it is written one file per layer, in apply order", (profile) => {
    const files = readdirSync(join(synthesised, profile));
    expect(files).toEqual(["00-namespaces.k8s.yaml", "10-zones.k8s.yaml", "20-messaging.k8s.yaml", "30-database.k8s.yaml", "40-monitoring.k8s.yaml", "50-services.k8s.yaml", "60-network.k8s.yaml"]);
  });

  it.each(Object.keys(lotProfiles))("when the %s lot is applied as a server-side dry run, then the API server accepts every object", async (profile) => {
    const { stdout } = await kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=lot-dry-run", "--dry-run=server", "-f", join(synthesised, profile));
    const objects = lotManifests(lotProfiles[profile]!);
    // kubectl names each object it applied: every one of the lot's, none refused.
    expect(stdout.trim().split("\n")).toHaveLength(objects.length);
    expect(stdout).not.toMatch(/error/i);
  }, 120_000);

  it("when production is compared with the local lot, then only sizes, replicas and the simulator differ", () => {
    const production = lotManifests(lotProfiles.production!);
    const local = lotManifests(lotProfiles.local!);
    const replicas = (objects: Manifest[], name: string) => (objects.find((o) => o.metadata.name === name && ["Deployment", "StatefulSet"].includes(o.kind)) as Json | undefined)?.spec.replicas;
    expect(replicas(production, "nats")).toBe(3);
    expect(replicas(local, "nats")).toBe(1);
    expect(replicas(production, "actes")).toBe(2);
    expect(production.some((o) => o.metadata.name === "postgresql")).toBe(true);
    // FerretDB on PostgreSQL in both: the database's roles are the same locally as in production.
    expect(local.some((o) => o.metadata.name === "postgresql")).toBe(true);
    expect(local.some((o) => o.metadata.name === "prefecture-simulator")).toBe(true);
    expect(production.some((o) => o.metadata.name === "prefecture-simulator")).toBe(false);
    const natsConfig = (production.find((o) => o.metadata.name === "nats-config") as Json).data["nats.conf"] as string;
    expect(natsConfig).toContain("jetstream {");
    expect(natsConfig).toMatch(/routes: \[.*nats-2\.nats-cluster/);
  });

  it.each(Object.keys(lotProfiles))("when the %s lot is read, then it holds no secret, and every namespace is restricted and denies by default", (profile) => {
    const objects = lotManifests(lotProfiles[profile]!);
    expect(objects.filter((o) => o.kind === "Secret")).toEqual([]);
    const namespaces = objects.filter((o) => o.kind === "Namespace");
    expect(namespaces.map((n) => n.metadata.name).sort()).toEqual(["mutualis-monitoring", "mutualis-system"]);
    for (const namespace of namespaces) {
      expect(namespace.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      const deny = objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.namespace === namespace.metadata.name && o.metadata.name === "default-deny") as Json | undefined;
      expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    }
    // Every workload is let through by a policy of its own, and has requests and limits.
    const policies = objects.filter((o) => o.kind === "NetworkPolicy").map((o) => (o as Json).spec.podSelector.matchLabels?.["mutualis.fr/platform-component"]);
    for (const { owner, template } of podTemplates(objects)) {
      expect(policies, owner).toContain(template.metadata.labels["mutualis.fr/platform-component"]);
      for (const container of template.spec.containers) expect(Object.keys(container.resources ?? {}).sort(), owner).toEqual(["limits", "requests"]);
    }
  });

  it("when every workload's pod is created in a namespace enforcing Pod Security restricted, then admission accepts each, and refuses a pod that is not restricted", async () => {
    const objects = [...lotManifests(lotProfiles.production!), ...lotManifests(lotProfiles.local!)];
    const namespace = objects.find((o) => o.kind === "Namespace")!;
    const probe = { apiVersion: "v1", kind: "Namespace", metadata: { name: "lot-pod-security", labels: namespace.metadata.labels } };
    await applyYaml([probe]);
    // A StatefulSet's pods get their claims' volumes; their ServiceAccounts exist in the namespace.
    const pods = podTemplates(objects).map(({ owner, template, claims }, i) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `${owner.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-${i}`, namespace: "lot-pod-security", labels: template.metadata?.labels },
      spec: { ...template.spec, volumes: [...(template.spec.volumes ?? []), ...claims.map((name) => ({ name, emptyDir: {} }))] },
    }));
    const accounts = new Set(pods.map((p) => p.spec.serviceAccountName as string | undefined).filter((a) => a !== undefined));
    await applyYaml([...accounts].map((name) => ({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: "lot-pod-security" } })));
    expect(pods.length).toBeGreaterThan(10);
    const { stdout } = await applyYaml(pods, ["--dry-run=server"]);
    expect(stdout.trim().split("\n")).toHaveLength(pods.length);
    // The same check refuses a pod that is not restricted: the namespace really enforces it.
    const loose = { ...pods[0]!, metadata: { ...pods[0]!.metadata, name: "loose" }, spec: { ...pods[0]!.spec, securityContext: {} } };
    const refused = await applyYaml([loose], ["--dry-run=server"]).then(
      () => "",
      (error: { stderr?: string }) => error.stderr ?? "",
    );
    expect(refused).toMatch(/violates PodSecurity "restricted:latest"/);
  }, 120_000);
});

async function applyYaml(objects: readonly object[], extra: string[] = []): Promise<{ stdout: string }> {
  const file = join(mkdtempSync(join(tmpdir(), "mutualis-lot-objects-")), "objects.yaml");
  writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
  return kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=lot-test", ...extra, "-f", file);
}
