import type { Collectivity } from "@mutualis/api";
import { labels, tenantNamespace } from "../../constants.ts";
import { childMetadata, type Manifest } from "./owner.ts";

export interface PlatformNetwork {
  /** The namespace of the platform's shared components (NATS, database, gateway, Prometheus). */
  readonly platformNamespace: string;
  readonly natsPort: number;
  readonly databasePort: number;
}

const inNamespace = (name: string) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } } });
const platformPods = (network: PlatformNetwork, component: string) => ({
  ...inNamespace(network.platformNamespace),
  podSelector: { matchLabels: { [labels.platformComponent]: component } },
});

/**
 * Default deny in both directions, then only what a tenant needs: its own namespace, DNS, the
 * platform's NATS and database, and ingress from the platform gateway and Prometheus.
 */
export function renderNetworkPolicies(collectivity: Collectivity, network: PlatformNetwork): Manifest[] {
  const namespace = tenantNamespace(collectivity.metadata!.name!);
  const policy = (name: string, spec: Record<string, unknown>): Manifest => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: childMetadata(collectivity, name, namespace),
    spec: { podSelector: {}, ...spec },
  });
  return [
    policy("default-deny", { policyTypes: ["Ingress", "Egress"] }),
    policy("allow-same-namespace", {
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ podSelector: {} }] }],
    }),
    policy("allow-dns", {
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ...inNamespace("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    }),
    policy("allow-platform-services", {
      policyTypes: ["Egress"],
      egress: [
        { to: [platformPods(network, "nats")], ports: [{ protocol: "TCP", port: network.natsPort }] },
        { to: [platformPods(network, "database")], ports: [{ protocol: "TCP", port: network.databasePort }] },
      ],
    }),
    policy("allow-from-gateway-and-monitoring", {
      policyTypes: ["Ingress"],
      ingress: [{ from: [platformPods(network, "gateway"), platformPods(network, "prometheus")] }],
    }),
  ];
}
