import { request, type IncomingMessage } from "node:http";
import { request as requestTls } from "node:https";
import { connect } from "node:net";

export interface Probe {
  httpGet?: { path?: string; port: number | string; scheme?: string; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number | string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
}

/** A probe's port, by number or by the container's port name. */
export function probePort(port: number | string, ports: readonly { name?: string; containerPort: number }[]): number | undefined {
  if (typeof port === "number") return port;
  if (/^[0-9]+$/.test(port)) return Number(port);
  return ports.find((p) => p.name === port)?.containerPort;
}

/** One probe attempt against the pod's address: true on success, else why not. */
export async function probeOnce(probe: Probe, host: string, ports: readonly { name?: string; containerPort: number }[]): Promise<true | string> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  const target = probe.httpGet ?? probe.tcpSocket;
  if (!target) return true; // exec probes are not supported: they count as passing, as documented
  const port = probePort(target.port, ports);
  if (port === undefined) return `port ${String(target.port)} is not a port of the container`;
  if (probe.tcpSocket) {
    return new Promise((resolve) => {
      const socket = connect({ host, port, timeout: timeoutMs });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("timeout", () => {
        socket.destroy();
        resolve(`dial tcp ${host}:${port}: i/o timeout`);
      });
      socket.once("error", (error) => resolve(`dial tcp ${host}:${port}: ${error.message}`));
    });
  }
  const http = probe.httpGet!;
  return new Promise((resolve) => {
    const headers = Object.fromEntries((http.httpHeaders ?? []).map((h) => [h.name, h.value]));
    const tls = http.scheme?.toUpperCase() === "HTTPS";
    const options = { host, port, path: http.path ?? "/", method: "GET", headers: { "user-agent": "kube-probe/mutualis-local", ...headers }, timeout: timeoutMs };
    const answer = (res: IncomingMessage) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400 ? true : `HTTP probe failed with statuscode: ${status}`);
    };
    // As the kubelet does, an HTTPS probe does not verify the pod's certificate.
    const call = tls ? requestTls({ ...options, rejectUnauthorized: false }, answer) : request(options, answer);
    call.once("timeout", () => call.destroy(new Error("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")));
    call.once("error", (error) => resolve(`Get "${tls ? "https" : "http"}://${host}:${port}${http.path ?? "/"}": ${error.message}`));
    call.end();
  });
}
