import { join } from "node:path";
import type { PlatformConfig } from "./config.ts";

/** Where each piece of the local platform lives inside its directory (`.local/` by default). */
export function layout(config: PlatformConfig) {
  const { dir } = config;
  return {
    pki: join(dir, "pki"),
    kube: join(dir, "kube"),
    kubeconfig: join(dir, "kubeconfig"),
    env: join(dir, "env"),
    logs: join(dir, "logs"),
    run: join(dir, "run"),
    data: join(dir, "data"),
    postgresql: join(dir, "data", "postgresql"),
    /** The database roles' passwords. */
    database: join(dir, "database"),
    nats: join(dir, "nats"),
    prometheus: join(dir, "prometheus"),
    services: join(dir, "services"),
    clamav: join(dir, "clamav"),
    identity: join(dir, "identity"),
    nodeAgent: join(dir, "node-agent"),
    /** The services image's bundle, built from this checkout (the operator runs from it). */
    bundle: join(dir, "bundle"),
    bin: (program: string) => join(config.binDir, program),
    log: (component: string) => join(dir, "logs", `${component}.log`),
    pid: (component: string) => join(dir, "run", `${component}.pid`),
  };
}

export type Layout = ReturnType<typeof layout>;
