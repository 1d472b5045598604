import { resolve } from "node:path";

/** Every TCP port the local platform listens on, all on 127.0.0.1. */
export interface Ports {
  readonly etcd: number;
  readonly etcdPeer: number;
  readonly etcdMetrics: number;
  readonly apiServer: number;
  readonly controllerManager: number;
  readonly scheduler: number;
  readonly kwok: number;
  readonly nats: number;
  readonly natsMonitor: number;
  /** FerretDB, over TLS only. */
  readonly ferretdb: number;
  readonly ferretdbDebug: number;
  /** PostgreSQL under FerretDB: the operator makes its roles there. */
  readonly postgresql: number;
  readonly clamd: number;
  readonly prometheus: number;
  readonly operator: number;
  readonly gateway: number;
  readonly actes: number;
  readonly prefectureSimulator: number;
  readonly sesf: number;
  readonly observatory: number;
  /** The identity service (OpenID Connect issuer), over TLS. */
  readonly identity: number;
  /** The ProConnect simulator, over TLS: the State's federation, which the identity is a service provider of. */
  readonly proconnect: number;
  /** The portal, where agents and company users work. */
  readonly portal: number;
  /** The publication of acts: public pages, no sign-in. */
  readonly ipl: number;
  /** The parapheur: signature circuits, reached through the gateway. */
  readonly parapheur: number;
  /** The flows between the services. */
  readonly flows: number;
  readonly nodeAgent: number;
  readonly mailCatcherSmtp: number;
  readonly mailCatcherWeb: number;
}

/**
 * Defaults stay clear of the standard ports (2379, 6443, 4222, 27017, 9090, 10257…) that a
 * machine may already use. Each can be moved with MUTUALIS_PORT_<NAME> (for example
 * MUTUALIS_PORT_API_SERVER), and all of them together with MUTUALIS_PORT_OFFSET.
 */
export const defaultPorts: Ports = {
  etcd: 16379,
  etcdPeer: 16380,
  etcdMetrics: 16381,
  apiServer: 16443,
  controllerManager: 16257,
  scheduler: 16259,
  kwok: 16247,
  nats: 16222,
  natsMonitor: 16822,
  ferretdb: 16017,
  ferretdbDebug: 16018,
  postgresql: 16032,
  clamd: 16310,
  prometheus: 16090,
  operator: 16080,
  gateway: 16081,
  actes: 16082,
  prefectureSimulator: 16083,
  sesf: 16084,
  observatory: 16085,
  identity: 16086,
  proconnect: 16087,
  portal: 16088,
  ipl: 16089,
  parapheur: 16091,
  flows: 16092,
  nodeAgent: 16250,
  mailCatcherSmtp: 16025,
  mailCatcherWeb: 16825,
};

/**
 * A hosting zone of the local platform and the node that stands for it: served by the project's
 * node agent (its pods run as local processes) or simulated by KWOK (pods only pretend to run,
 * for scale).
 */
export interface Zone {
  readonly name: string;
  readonly region: string;
  readonly node: string;
  readonly runner: "agent" | "kwok";
}

/** The node the node agent serves; its certificate names it (system:node:<name>). */
export const agentNodeName = "local-1";

export const defaultZones: readonly Zone[] = [
  { name: "fr-bzh-1a", region: "fr-bzh", node: agentNodeName, runner: "agent" },
  { name: "fr-bzh-1b", region: "fr-bzh", node: "kwok-fr-bzh-1b", runner: "kwok" },
];

/** The services image's repository: the operator renders it, the node agent runs it. */
export const servicesImage = "registry.mutualis.invalid/mutualis/services";

export interface PlatformConfig {
  /** The repository checkout. */
  readonly root: string;
  /** Where the platform keeps its state, logs and generated files (default `<root>/.local`). */
  readonly dir: string;
  /** Where the pinned upstream binaries are linked by tools/build.sh. */
  readonly binDir: string;
  readonly ports: Ports;
  readonly zones: readonly Zone[];
  /**
   * Skips fsync in etcd: much faster, but a machine crash may lose recent writes. Meant for
   * throw-away platforms such as the test suite's.
   */
  readonly unsafeFastStorage: boolean;
  /** Whether `up` also starts the Mutualis operator (tests that drive operators themselves turn it off). */
  readonly withOperator: boolean;
  /**
   * Pods of the agent's node get addresses in 127.<block>.0.0/16; each platform its own block
   * (MUTUALIS_POD_ADDRESS_BLOCK, by default derived from the API server's port), so that two
   * platforms on one machine never give two pods the same address.
   */
  readonly podAddressBlock: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

function envName(key: string): string {
  return "MUTUALIS_PORT_" + key.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();
}

function parsePort(name: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`${name} must be a TCP port between 1 and 65535, got "${value}"`);
  }
  return port;
}

/** Reads the platform configuration from the environment, with the defaults above. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, root = repositoryRoot()): PlatformConfig {
  const offset = env.MUTUALIS_PORT_OFFSET ? Number(env.MUTUALIS_PORT_OFFSET) : 0;
  if (!Number.isInteger(offset) || offset < 0 || offset > 40000) {
    throw new ConfigError(`MUTUALIS_PORT_OFFSET must be an integer between 0 and 40000, got "${env.MUTUALIS_PORT_OFFSET}"`);
  }
  const ports = Object.fromEntries(
    Object.entries(defaultPorts).map(([key, port]) => {
      const name = envName(key);
      const value = env[name];
      return [key, value ? parsePort(name, value) : port + offset];
    }),
  ) as unknown as Ports;
  const seen = new Map<number, string>();
  for (const [key, port] of Object.entries(ports)) {
    const other = seen.get(port);
    if (other) throw new ConfigError(`${envName(key)} and ${envName(other)} both use port ${port}`);
    seen.set(port, key);
  }
  const dir = resolve(root, env.MUTUALIS_LOCAL_DIR ?? ".local");
  return {
    root,
    dir,
    binDir: resolve(root, ".local/bin"),
    ports,
    zones: defaultZones,
    unsafeFastStorage: env.MUTUALIS_UNSAFE_FAST_STORAGE === "1",
    withOperator: env.MUTUALIS_WITH_OPERATOR !== "0",
    podAddressBlock: env.MUTUALIS_POD_ADDRESS_BLOCK ? Number(env.MUTUALIS_POD_ADDRESS_BLOCK) : 20 + (Math.floor(ports.apiServer / 1000) % 200),
  };
}

export function repositoryRoot(): string {
  return resolve(import.meta.dirname, "../../..");
}
