import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { stringify } from "yaml";
import type { Zone } from "./config.ts";

const run = promisify(execFile);

/** The annotation KWOK selects the nodes it simulates by. */
export const kwokNodeAnnotation = { key: "kwok.x-k8s.io/node", value: "fake" } as const;

type Manifest = Record<string, unknown>;

/**
 * Least-privilege identities of the platform's own helpers. KWOK plays the kubelet of the
 * simulated nodes; Prometheus only reads metrics.
 */
export function platformRbac(): Manifest[] {
  const clusterRole = (name: string, rules: unknown[]): Manifest => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name, labels: { "app.kubernetes.io/part-of": "mutualis-local" } },
    rules,
  });
  const bindToUser = (name: string, user: string): Manifest => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name, labels: { "app.kubernetes.io/part-of": "mutualis-local" } },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
  });
  return [
    clusterRole("mutualis:kwok", [
      { apiGroups: [""], resources: ["nodes", "nodes/status"], verbs: ["get", "list", "watch", "create", "update", "patch"] },
      { apiGroups: [""], resources: ["pods", "pods/status"], verbs: ["get", "list", "watch", "update", "patch", "delete"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "list", "watch", "create", "update", "patch"] },
      { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch", "update"] },
    ]),
    bindToUser("mutualis:kwok", "mutualis:kwok"),
    // Prometheus reads metrics, and finds the pods to scrape (kubernetes_sd, role pod).
    clusterRole("mutualis:prometheus", [
      { nonResourceURLs: ["/metrics"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
    ]),
    bindToUser("mutualis:prometheus", "mutualis:prometheus"),
    // A gateway run in process (the tests') acts only as its callers, with the gateway's client
    // certificate; the platform's gateway pod has the lot's ServiceAccount and ClusterRole instead.
    clusterRole("mutualis:gateway-in-process", [{ apiGroups: [""], resources: ["users", "groups"], verbs: ["impersonate"] }]),
    bindToUser("mutualis:gateway-in-process", "mutualis:gateway"),
  ];
}

/** The simulated nodes of KWOK's zones, labelled the way the scheduler and tenants expect. */
export function zoneNodes(zones: readonly Zone[]): Manifest[] {
  return zones.filter((zone) => zone.runner === "kwok").map((zone) => ({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: zone.node,
      annotations: { [kwokNodeAnnotation.key]: kwokNodeAnnotation.value, "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": zone.node,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "kwok",
        "topology.kubernetes.io/region": zone.region,
        "topology.kubernetes.io/zone": zone.name,
        type: "kwok",
      },
    },
    spec: {},
  }));
}

/** A thin kubectl runner bound to one kubeconfig. */
export class Kubectl {
  constructor(
    private readonly binary: string,
    private readonly kubeconfig: string,
  ) {}

  async run(args: readonly string[], input?: string): Promise<string> {
    const child = run(this.binary, ["--kubeconfig", this.kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    const { stdout } = await child;
    return stdout;
  }

  /** Server-side apply, so that running it again changes nothing. */
  apply(manifests: readonly Manifest[]): Promise<string> {
    const yaml = manifests.map((m) => stringify(m)).join("---\n");
    return this.run(["apply", "--server-side", "--field-manager=mutualis-local", "-f", "-"], yaml);
  }
}
