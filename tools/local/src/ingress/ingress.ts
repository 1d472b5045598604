import { createServer, connect, type Server, type Socket } from "node:net";
import type { KubernetesObject } from "@kubernetes/client-node";
import { resourceTypes, type KubeClient } from "@mutualis/operator";

/** One fixed local address for a Service's pods: what a kube-proxy and an ingress give in a cluster. */
export interface Route {
  readonly host: string;
  readonly port: number;
  readonly namespace: string;
  /** The Service's selector, as a label selector. */
  readonly selector: string;
  readonly targetPort: number;
}

interface Pod extends KubernetesObject {
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
}

/** `16085=mutualis-system/app.kubernetes.io/name=observatory:8080` → a Route on 127.0.0.1. */
export function parseRoute(text: string): Route {
  const match = /^(\d+)=([a-z0-9-]+)\/([^:]+):(\d+)$/.exec(text);
  if (!match) throw new Error(`route "${text}" is not <port>=<namespace>/<label selector>:<target port>`);
  return { host: "127.0.0.1", port: Number(match[1]), namespace: match[2]!, selector: match[3]!, targetPort: Number(match[4]) };
}

/**
 * Forwards each TCP connection on the route's fixed address to one of the Service's ready pods
 * (round robin), found through the API server. The local platform has no kube-proxy: this keeps
 * the platform's fixed ports (GATEWAY_URL, OBSERVATORY_URL…) for services run as pods.
 */
export async function startIngress(client: KubeClient, route: Route): Promise<Server> {
  let backends: string[] = [];
  let fetchedAt = 0;
  let next = 0;
  const resolveBackends = async () => {
    if (Date.now() - fetchedAt < 2_000) return backends;
    const pods = await client.list<Pod>(resourceTypes.Pod, { namespace: route.namespace, labelSelector: route.selector });
    backends = pods.items
      .filter((p) => p.status?.podIP && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
      .map((p) => p.status!.podIP!)
      .sort();
    fetchedAt = Date.now();
    return backends;
  };
  const server = createServer((socket: Socket) => {
    socket.pause();
    resolveBackends().then(
      (ready) => {
        if (ready.length === 0) {
          socket.destroy();
          return;
        }
        const upstream = connect(route.targetPort, ready[next++ % ready.length]!);
        upstream.on("error", () => socket.destroy());
        socket.on("error", () => upstream.destroy());
        socket.pipe(upstream).pipe(socket);
        socket.resume();
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(route.port, route.host, () => resolvePromise());
  });
  return server;
}
