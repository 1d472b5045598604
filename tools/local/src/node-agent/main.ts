#!/usr/bin/env -S npx tsx
/**
 * The local node agent's process: `make up` starts it for the node of zone fr-bzh-1a. Settings
 * come from the environment (see agentSettings); the platform writes them.
 */
import { createServer } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger, KubeClient } from "@mutualis/operator";
import { NodeAgent } from "./agent.ts";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`node agent: ${name} is required\n`);
    process.exit(1);
  }
  return value;
}

/** Where the agent's own kubeconfig reaches the API server: pods reach it there too. */
function apiServerOf(config: KubeConfig): { host: string; port: number } | undefined {
  const server = config.getCurrentCluster()?.server;
  if (!server) return undefined;
  const url = new URL(server);
  return { host: url.hostname, port: Number(url.port || 443) };
}

const log = createLogger("node-agent");
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(required("NODE_AGENT_KUBECONFIG"));
const port = Number(required("NODE_AGENT_PORT"));
const agent = new NodeAgent({
  client: KubeClient.fromKubeConfig(kubeConfig),
  log,
  node: { name: required("NODE_NAME"), zone: required("NODE_ZONE"), region: required("NODE_REGION") },
  root: required("NODE_AGENT_ROOT"),
  stateDir: required("NODE_AGENT_STATE_DIR"),
  servicesImage: required("MUTUALIS_SERVICES_IMAGE"),
  addressBlock: Number(process.env.NODE_AGENT_ADDRESS_BLOCK ?? 42),
  backoffMs: process.env.NODE_AGENT_BACKOFF_MS ? Number(process.env.NODE_AGENT_BACKOFF_MS) : undefined,
  port,
  apiServer: apiServerOf(kubeConfig),
});

let healthy = false;
const server = createServer((req, res) => {
  res.writeHead(req.url === "/healthz" && healthy ? 200 : req.url === "/healthz" ? 503 : 404, { "content-type": "text/plain" });
  res.end(healthy ? "ok" : "starting");
});
server.listen(port, "127.0.0.1");

const shutdown = (signal: string) => {
  log.info({ signal }, "stopping the node's pods");
  healthy = false;
  agent.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      log.error({ err: error }, "unclean stop");
      process.exit(1);
    },
  );
};
process.once("SIGTERM", () => shutdown("SIGTERM"));
process.once("SIGINT", () => shutdown("SIGINT"));

try {
  await agent.start();
  healthy = true;
} catch (error) {
  log.fatal({ err: error }, "the node agent could not start");
  process.exit(1);
}
