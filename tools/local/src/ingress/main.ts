#!/usr/bin/env -S npx tsx
/**
 * The local ingress's process: INGRESS_ROUTE (see parseRoute) forwarded to the Service's ready
 * pods, found with INGRESS_KUBECONFIG. `make up` starts one per service run as pods.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger, KubeClient } from "@mutualis/operator";
import { parseRoute, startIngress } from "./ingress.ts";

const log = createLogger("ingress");
const kubeconfig = process.env.INGRESS_KUBECONFIG;
const routeText = process.env.INGRESS_ROUTE;
if (!kubeconfig || !routeText) {
  process.stderr.write("ingress: INGRESS_KUBECONFIG and INGRESS_ROUTE are required\n");
  process.exit(1);
}
const config = new KubeConfig();
config.loadFromFile(kubeconfig);
const route = parseRoute(routeText);
const server = await startIngress(KubeClient.fromKubeConfig(config), route);
log.info({ route: routeText }, "forwarding");
const stop = () => server.close(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
