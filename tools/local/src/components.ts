import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { identityPrefix, localLot, operatorAlerts, platformAlerts, podScrapeRelabelling } from "@mutualis/cdk8s";
import { operatorProcessEnv } from "@mutualis/operator";
import { stringify } from "yaml";
import { servicesImage, type PlatformConfig } from "./config.ts";
import { answersAtAll, answersOk } from "./http.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import type { Layout } from "./layout.ts";
import { ensureOperatorIdentity } from "./nats/auth.ts";
import { ensureLocalSecrets, proconnectClientId } from "./identity.ts";
import { issueCertificate, type Pki } from "./pki.ts";
import { buildServicesBundle, servicesBundle } from "./bundle.ts";
import { writeDashboardAssets } from "./dashboards.ts";
import { bootstrapDatabase, databaseName, ferretdbPostgresUrl, initCluster, postgresAnswers, postgresArgs, postgresBin, postgresUser } from "./database.ts";
import type { Daemon } from "./processes.ts";
import { applyLotService, lotServiceRoute } from "./provided.ts";

/** One program of the local platform: how to start it, and how to tell it is ready. */
export interface Component {
  readonly name: string;
  /** What a user connects to, for `make status`. */
  readonly endpoint: string;
  readonly daemon: Daemon;
  /** How long a cold start may take before `make up` gives up. */
  readonly startTimeoutMs: number;
  /** The TCP ports it listens on, which `make down` checks are free again. */
  readonly ports: readonly number[];
  /** Writes configuration files the daemon reads; runs before each start. */
  prepare?(): Promise<void> | void;
  ready(): Promise<boolean>;
  /**
   * Markers of the programs an earlier version of the platform ran for this component (a service
   * run as a process before it ran as pods): one still holding the component's port is stopped.
   */
  readonly formerMarkers?: readonly string[];
}

export interface ComponentContext {
  readonly config: PlatformConfig;
  readonly paths: Layout;
  readonly pki: Pki;
}

const loopback = "127.0.0.1";

function daemon(ctx: ComponentContext, name: string, program: string, args: string[]): Daemon {
  return {
    name,
    command: ctx.paths.bin(program),
    args,
    logFile: ctx.paths.log(name),
    pidFile: ctx.paths.pid(name),
  };
}

function etcd(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const client = `http://${loopback}:${ports.etcd}`;
  const peer = `http://${loopback}:${ports.etcdPeer}`;
  const args = [
    "--name=mutualis-local",
    `--data-dir=${join(ctx.paths.data, "etcd")}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=mutualis-local=${peer}`,
    `--listen-metrics-urls=http://${loopback}:${ports.etcdMetrics}`,
    "--quota-backend-bytes=4294967296",
    "--log-level=warn",
  ];
  if (ctx.config.unsafeFastStorage) args.push("--unsafe-no-fsync");
  return {
    name: "etcd",
    endpoint: client,
    daemon: daemon(ctx, "etcd", "etcd", args),
    startTimeoutMs: 30_000,
    ports: [ports.etcd, ports.etcdPeer, ports.etcdMetrics],
    ready: () => answersOk(`${client}/health`),
  };
}

/**
 * The API server records, at metadata level, only the requests of the platform namespace's
 * service accounts (the operator installed by the chart): enough to list every permission it
 * uses, and nothing of anyone else.
 */
export const auditPolicy = {
  apiVersion: "audit.k8s.io/v1",
  kind: "Policy",
  omitStages: ["RequestReceived"],
  rules: [
    { level: "Metadata", userGroups: ["system:serviceaccounts:mutualis-system"] },
    { level: "None" },
  ],
};

/** The audience of the platform's access tokens, which the API server accepts as the services do. */
export const apiAudience = "mutualis-api";

/**
 * The API server's structured authentication: it trusts the platform's issuer (discovery and keys
 * over TLS from the local CA, given inline), takes the person's verified e-mail as the user name
 * and the identity's groups (mutualis:<collectivity>:<role>), both under the oidc: prefix, and
 * refuses, as a second guard, any user or group that would still be one of the cluster's own.
 */
export function authenticationConfiguration(issuer: string, caPem: string): Record<string, unknown> {
  return {
    apiVersion: "apiserver.config.k8s.io/v1",
    kind: "AuthenticationConfiguration",
    jwt: [
      {
        issuer: { url: issuer, audiences: [apiAudience], audienceMatchPolicy: "MatchAny", certificateAuthority: caPem },
        claimValidationRules: [{ expression: "claims.email_verified == true", message: "the person's address is not verified" }],
        claimMappings: {
          username: { claim: "email", prefix: identityPrefix },
          groups: { claim: "groups", prefix: identityPrefix },
          uid: { claim: "sub" },
        },
        userValidationRules: [
          { expression: "!user.username.startsWith('system:')", message: "system: users are the cluster's own" },
          { expression: "user.groups.all(group, !group.startsWith('system:'))", message: "system: groups are the cluster's own" },
        ],
      },
    ],
  };
}

function apiServer(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const { pki } = ctx;
  const url = `https://${loopback}:${ports.apiServer}`;
  return {
    name: "kube-apiserver",
    endpoint: url,
    daemon: daemon(ctx, "kube-apiserver", "kube-apiserver", [
      `--etcd-servers=http://${loopback}:${ports.etcd}`,
      `--bind-address=${loopback}`,
      `--advertise-address=${loopback}`,
      `--secure-port=${ports.apiServer}`,
      `--cert-dir=${join(ctx.paths.kube, "apiserver")}`,
      `--tls-cert-file=${pki.serving.cert}`,
      `--tls-private-key-file=${pki.serving.key}`,
      `--client-ca-file=${pki.ca.cert}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountPrivateKey}`,
      "--service-cluster-ip-range=10.96.0.0/12",
      "--authorization-mode=Node,RBAC",
      "--endpoint-reconciler-type=none",
      "--allow-privileged=true",
      // Pins every pod of a tenant namespace to the namespace's zone (data residency).
      "--enable-admission-plugins=PodNodeSelector",
      "--profiling=false",
      // What the operator's ServiceAccount does, request by request (the chart's RBAC test reads it).
      // The platform's people reach the API with the identity service's tokens (oidc: prefixed).
      `--authentication-config=${join(ctx.paths.kube, "authentication.yaml")}`,
      `--audit-policy-file=${join(ctx.paths.kube, "audit-policy.yaml")}`,
      `--audit-log-path=${join(ctx.paths.kube, "audit.log")}`,
      "--audit-log-format=json",
      "--audit-log-maxsize=100",
      "--audit-log-maxbackup=1",
      "--v=1",
    ]),
    prepare: () => {
      mkdirSync(ctx.paths.kube, { recursive: true });
      writeFileSync(join(ctx.paths.kube, "audit-policy.yaml"), stringify(auditPolicy));
      // Written whole then renamed: the API server watches it and reads a half-written file as empty.
      const authentication = join(ctx.paths.kube, "authentication.yaml");
      writeFileSync(`${authentication}.tmp`, stringify(authenticationConfiguration(`https://${loopback}:${ports.identity}`, readFileSync(pki.ca.cert, "utf8"))));
      renameSync(`${authentication}.tmp`, authentication);
    },
    startTimeoutMs: 90_000,
    ports: [ports.apiServer],
    ready: () => answersOk(`${url}/readyz`, { caFile: pki.ca.cert, client: pki.admin }),
  };
}

/** The controller manager and the scheduler share their flags for serving and delegated auth. */
function controlPlaneServing(ctx: ComponentContext, port: number, kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--bind-address=${loopback}`,
    `--secure-port=${port}`,
    `--tls-cert-file=${ctx.pki.serving.cert}`,
    `--tls-private-key-file=${ctx.pki.serving.key}`,
    `--client-ca-file=${ctx.pki.ca.cert}`,
    "--leader-elect=false",
    "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
    "--profiling=false",
    "--v=1",
  ];
}

function controllerManager(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const { pki } = ctx;
  const kubeconfig = join(ctx.paths.kube, "controller-manager.kubeconfig");
  const url = `https://${loopback}:${ports.controllerManager}`;
  return {
    name: "kube-controller-manager",
    endpoint: url,
    daemon: daemon(ctx, "kube-controller-manager", "kube-controller-manager", [
      ...controlPlaneServing(ctx, ports.controllerManager, kubeconfig),
      `--root-ca-file=${pki.ca.cert}`,
      `--service-account-private-key-file=${pki.serviceAccountPrivateKey}`,
      "--use-service-account-credentials=true",
      `--cluster-signing-cert-file=${pki.ca.cert}`,
      `--cluster-signing-key-file=${pki.ca.key}`,
      "--service-cluster-ip-range=10.96.0.0/12",
    ]),
    startTimeoutMs: 60_000,
    ports: [ports.controllerManager],
    prepare: () =>
      writeKubeconfig(kubeconfig, `https://${loopback}:${ports.apiServer}`, pki.ca.cert, pki.controllerManager, "system:kube-controller-manager"),
    ready: () => answersOk(`${url}/healthz`, { caFile: pki.ca.cert }),
  };
}

function scheduler(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const { pki } = ctx;
  const kubeconfig = join(ctx.paths.kube, "scheduler.kubeconfig");
  const url = `https://${loopback}:${ports.scheduler}`;
  return {
    name: "kube-scheduler",
    endpoint: url,
    daemon: daemon(ctx, "kube-scheduler", "kube-scheduler", controlPlaneServing(ctx, ports.scheduler, kubeconfig)),
    startTimeoutMs: 60_000,
    ports: [ports.scheduler],
    prepare: () =>
      writeKubeconfig(kubeconfig, `https://${loopback}:${ports.apiServer}`, pki.ca.cert, pki.scheduler, "system:kube-scheduler"),
    ready: () => answersOk(`${url}/healthz`, { caFile: pki.ca.cert }),
  };
}

function kwok(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const { pki } = ctx;
  const kubeconfig = join(ctx.paths.kube, "kwok.kubeconfig");
  const stages = join(ctx.paths.kube, "kwok-stages.yaml");
  const url = `http://${loopback}:${ports.kwok}`;
  return {
    name: "kwok",
    endpoint: url,
    daemon: daemon(ctx, "kwok", "kwok", [
      `--kubeconfig=${kubeconfig}`,
      `--config=${stages}`,
      "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      `--node-ip=${loopback}`,
      "--cidr=10.244.0.0/16",
      `--server-address=${loopback}:${ports.kwok}`,
    ]),
    startTimeoutMs: 30_000,
    ports: [ports.kwok],
    prepare: () => {
      writeKubeconfig(kubeconfig, `https://${loopback}:${ports.apiServer}`, pki.ca.cert, pki.kwok, "mutualis:kwok");
      // The stages are built with the binary (tools/kwok/recipe.sh) from the pinned module.
      copyFileSync(ctx.paths.bin("kwok-stages.yaml"), stages);
    },
    ready: () => answersOk(`${url}/healthz`),
  };
}

function nats(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const configFile = join(ctx.paths.nats, "nats.conf");
  const url = `nats://${loopback}:${ports.nats}`;
  const monitor = `http://${loopback}:${ports.natsMonitor}`;
  return {
    name: "nats",
    endpoint: url,
    daemon: daemon(ctx, "nats", "nats-server", [`--config=${configFile}`]),
    startTimeoutMs: 30_000,
    ports: [ports.nats, ports.natsMonitor],
    prepare: async () => {
      const identity = await ensureOperatorIdentity(ctx.paths.nats);
      const store = join(ctx.paths.data, "nats");
      mkdirSync(join(store, "accounts"), { recursive: true });
      const sys = identity.systemAccount.getPublicKey();
      // JSON is valid NATS configuration syntax, and quoting JWTs this way is safe.
      const config = {
        server_name: "mutualis-local",
        listen: `${loopback}:${ports.nats}`,
        http: `${loopback}:${ports.natsMonitor}`,
        max_payload: 8 * 1024 * 1024,
        // Every stream reserves its max_bytes of this budget when it is made (a tenant's flows and
        // files, the shared services' object stores); the disk is used only as they fill.
        jetstream: { store_dir: store, max_memory_store: 256 * 1024 * 1024, max_file_store: 16 * 1024 * 1024 * 1024 },
        operator: identity.operatorJwt,
        system_account: sys,
        // A full resolver keeps every pushed account JWT on disk, so tenants' accounts
        // survive restarts and can be added or updated without one.
        resolver: { type: "full", dir: join(store, "accounts"), allow_delete: true, interval: "2m", timeout: "5s" },
        resolver_preload: { [sys]: identity.systemAccountJwt },
      };
      writeFileSync(configFile, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
    },
    ready: () => answersOk(`${monitor}/healthz`),
  };
}

/**
 * PostgreSQL, Debian's, a cluster of its own under `.local/data/postgresql` (made once), on its
 * own port, over TCP only: scram-sha-256 for every role, no Unix socket.
 */
function postgresql(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  return {
    name: "postgresql",
    endpoint: `postgres://127.0.0.1:${ports.postgresql}/${databaseName}`,
    daemon: {
      ...daemon(ctx, "postgresql", "postgres", postgresArgs(ctx.config)),
      command: postgresBin("postgres"),
      // Debian's one binary serves every cluster: its data directory tells this platform's apart.
      marker: ctx.paths.postgresql,
      ...(postgresUser() ? { user: postgresUser()! } : {}),
      // SIGTERM would wait for every client to leave; SIGINT ends their sessions and stops cleanly.
      stopSignal: "SIGINT",
    },
    startTimeoutMs: 60_000,
    ports: [ports.postgresql],
    prepare: () => initCluster(ctx.config),
    ready: () => postgresAnswers(ctx.config),
  };
}

/**
 * FerretDB on PostgreSQL, over TLS only (the serving certificate of the local CA), patched by
 * tools/ferretdb to keep cursors and database names to the role that owns them. Its own role may
 * do nothing: a client that names no role can do nothing either.
 */
function ferretdb(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const debug = `http://${loopback}:${ports.ferretdbDebug}`;
  return {
    name: "ferretdb",
    endpoint: `mongodb://${loopback}:${ports.ferretdb}/?tls=true`,
    daemon: daemon(ctx, "ferretdb", "ferretdb", [
      "--handler=postgresql",
      `--postgresql-url=${ferretdbPostgresUrl(ctx.config)}`,
      // No plaintext listener: PLAIN carries passwords, so they travel over TLS only.
      "--listen-addr=",
      `--listen-tls=${loopback}:${ports.ferretdb}`,
      `--listen-tls-cert-file=${ctx.pki.serving.cert}`,
      `--listen-tls-key-file=${ctx.pki.serving.key}`,
      `--debug-addr=${loopback}:${ports.ferretdbDebug}`,
      `--state-dir=${join(ctx.paths.data, "ferretdb-state")}`,
      "--telemetry=disable",
      // Never debug: FerretDB logs PLAIN's payload at that level.
      "--log-level=warn",
    ]),
    startTimeoutMs: 30_000,
    ports: [ports.ferretdb, ports.ferretdbDebug],
    prepare: async () => {
      mkdirSync(join(ctx.paths.data, "ferretdb-state"), { recursive: true });
      await bootstrapDatabase(ctx.config);
    },
    ready: () => answersOk(`${debug}/debug/readyz`),
  };
}

function prometheus(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const { pki } = ctx;
  const configFile = join(ctx.paths.prometheus, "prometheus.yml");
  const userAssets = join(ctx.paths.prometheus, "user");
  const url = `http://${loopback}:${ports.prometheus}`;
  const tls = { ca_file: pki.ca.cert, cert_file: pki.prometheus.cert, key_file: pki.prometheus.key };
  const job = (name: string, target: string, extra: Record<string, unknown> = {}) => ({
    job_name: name,
    static_configs: [{ targets: [target], labels: { platform: "mutualis-local" } }],
    ...extra,
  });
  return {
    name: "prometheus",
    endpoint: url,
    daemon: daemon(ctx, "prometheus", "prometheus", [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(ctx.paths.data, "prometheus")}`,
      `--web.listen-address=${loopback}:${ports.prometheus}`,
      "--web.enable-lifecycle",
      // The chart's dashboards and their viewer, at /user/ (Prometheus's own UI links to them).
      `--web.user-assets=${userAssets}`,
      "--storage.tsdb.retention.time=15d",
      "--log.level=warn",
    ]),
    startTimeoutMs: 30_000,
    ports: [ports.prometheus],
    prepare: () => {
      const targets = join(ctx.paths.prometheus, "targets");
      mkdirSync(targets, { recursive: true });
      writeDashboardAssets(userAssets);
      // The hosting lot's alerting rules, as its Prometheus in production loads them.
      const rulesFile = join(ctx.paths.prometheus, "mutualis-rules.yml");
      writeFileSync(rulesFile, stringify({ groups: [operatorAlerts({ ...localLot.alerts, namespace: localLot.platformNamespace }), platformAlerts()] }, { lineWidth: 0 }));
      const config = {
        global: { scrape_interval: "5s", evaluation_interval: "15s" },
        rule_files: [rulesFile],
        scrape_configs: [
          job("prometheus", `${loopback}:${ports.prometheus}`),
          job("etcd", `${loopback}:${ports.etcdMetrics}`),
          job("kube-apiserver", `${loopback}:${ports.apiServer}`, { scheme: "https", tls_config: tls }),
          job("kube-controller-manager", `${loopback}:${ports.controllerManager}`, { scheme: "https", tls_config: tls }),
          job("kube-scheduler", `${loopback}:${ports.scheduler}`, { scheme: "https", tls_config: tls }),
          job("kwok", `${loopback}:${ports.kwok}`),
          job("ferretdb", `${loopback}:${ports.ferretdbDebug}`, { metrics_path: "/debug/metrics" }),
          ...(ctx.config.withOperator
            ? [
                job("mutualis-operator", `${loopback}:${ports.operator}`),
              ]
            : []),
          ...podDiscovery(ctx, tls),
          // Later parts of the platform (operator, services) drop target files here.
          { job_name: "mutualis", file_sd_configs: [{ files: [join(targets, "*.json")], refresh_interval: "10s" }] },
        ],
      };
      writeFileSync(configFile, stringify(config));
    },
    ready: () => answersOk(`${url}/-/ready`),
  };
}

/**
 * Service pods found through the API server, as a production Prometheus finds them (the hosting
 * lot's relabelling): pods annotated prometheus.io/scrape, scraped at their address on the
 * annotated port and path. Only pods of the agent's node really run (KWOK's pods have made-up
 * addresses), so only those are kept here.
 */
function podDiscovery(ctx: ComponentContext, tls: Record<string, string>): Record<string, unknown>[] {
  const agentNodes = ctx.config.zones.filter((z) => z.runner === "agent").map((z) => z.node);
  if (agentNodes.length === 0) return [];
  return [
    {
      job_name: "mutualis-pods",
      kubernetes_sd_configs: [{ role: "pod", api_server: `https://${loopback}:${ctx.config.ports.apiServer}`, tls_config: tls }],
      relabel_configs: podScrapeRelabelling(agentNodes),
    },
  ];
}

/** The EICAR test string, the antivirus industry's harmless test file. */
export const eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/**
 * ClamAV's daemon (Debian's clamav-daemon), scanning the secure file exchange's uploads over TCP
 * (INSTREAM). The machine cannot download ClamAV's signature databases, so the platform gives it
 * a database of its own holding the EICAR test signature; production mounts the real ones.
 */
function clamd(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const dir = ctx.paths.clamav;
  const configFile = join(dir, "clamd.conf");
  return {
    name: "clamd",
    endpoint: `tcp://${loopback}:${ports.clamd}`,
    // Debian's binary for every platform on the machine: its configuration file tells this one's apart.
    daemon: { ...daemon(ctx, "clamd", "clamd", [`--config-file=${configFile}`]), command: "/usr/sbin/clamd", marker: `--config-file=${configFile}` },
    startTimeoutMs: 60_000,
    ports: [ports.clamd],
    prepare: () => {
      mkdirSync(join(dir, "db"), { recursive: true });
      writeFileSync(join(dir, "db", "mutualis-local.ndb"), `Eicar-Test-Signature:0:*:${Buffer.from(eicar).toString("hex")}\n`);
      const settings = {
        Foreground: "yes",
        TCPSocket: ports.clamd,
        TCPAddr: loopback,
        DatabaseDirectory: join(dir, "db"),
        StreamMaxLength: "4000M",
        MaxFileSize: "4000M",
        MaxScanSize: "4000M",
        LogTime: "yes",
        PidFile: join(dir, "clamd.pid"),
        // clamd keeps each stream it scans in a temporary file: in memory (tmpfs), so that no
        // plaintext of an upload ever reaches a disk (the lot mounts a memory emptyDir the same way).
        TemporaryDirectory: scanDirectory(ctx),
        LeaveTemporaryFiles: "no",
      };
      mkdirSync(scanDirectory(ctx), { recursive: true, mode: 0o700 });
      writeFileSync(configFile, Object.entries(settings).map(([k, v]) => `${k} ${v}`).join("\n") + "\n");
    },
    ready: () => clamdAnswers(loopback, ports.clamd),
  };
}

/** Where clamd keeps the streams it scans: on the machine's tmpfs, one directory per platform. */
export function scanDirectory(ctx: { config: { ports: { clamd: number } } }): string {
  return `/dev/shm/mutualis-clamd-${ctx.config.ports.clamd}`;
}

/** clamd answers PING with PONG once its database is loaded. */
function clamdAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port }, () => socket.end("zPING\0"));
    let reply = "";
    socket.setTimeout(2000, () => socket.destroy());
    socket.on("data", (chunk: Buffer) => (reply += chunk.toString("utf8")));
    socket.on("close", () => resolve(reply.startsWith("PONG")));
    socket.on("error", () => resolve(false));
  });
}

/** A Node.js program of this checkout (the operator, a service), run with tsx from its sources. */
function nodeProgram(
  ctx: ComponentContext,
  name: string,
  entry: string,
  port: number,
  env: Record<string, string | undefined>,
  options: { endpoint?: string; prepare?: () => Promise<void> } = {},
): Component {
  const url = `http://${loopback}:${port}`;
  const script = join(ctx.config.root, entry);
  return {
    name,
    endpoint: options.endpoint ?? url,
    daemon: {
      name,
      command: process.execPath,
      args: ["--import", "tsx", script],
      cwd: ctx.config.root,
      marker: script,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      logFile: ctx.paths.log(name),
      pidFile: ctx.paths.pid(name),
    },
    startTimeoutMs: 60_000,
    ports: [port],
    prepare: options.prepare,
    ready: () => answersOk(`${url}/readyz`),
  };
}

/**
 * The node agent: the kubelet of the zone served by real processes (see node-agent/agent.ts).
 * Pods it runs are children of it; `make down` stops it, and it stops them gracefully.
 */
function nodeAgent(ctx: ComponentContext): Component | undefined {
  const zone = ctx.config.zones.find((z) => z.runner === "agent");
  if (!zone) return undefined;
  const { ports } = ctx.config;
  const kubeconfig = join(ctx.paths.kube, "node-agent.kubeconfig");
  const program = nodeProgram(ctx, "node-agent", "tools/local/src/node-agent/main.ts", ports.nodeAgent, {
    NODE_AGENT_KUBECONFIG: kubeconfig,
    NODE_AGENT_PORT: String(ports.nodeAgent),
    NODE_NAME: zone.node,
    NODE_ZONE: zone.name,
    NODE_REGION: zone.region,
    NODE_AGENT_ROOT: ctx.config.root,
    NODE_AGENT_STATE_DIR: ctx.paths.nodeAgent,
    NODE_AGENT_ADDRESS_BLOCK: String(ctx.config.podAddressBlock),
    MUTUALIS_SERVICES_IMAGE: servicesImage,
  }, {
    prepare: async () => writeKubeconfig(kubeconfig, `https://${loopback}:${ports.apiServer}`, ctx.pki.ca.cert, ctx.pki.nodeAgent, `system:node:${zone.node}`),
  });
  return { ...program, ready: () => answersOk(`http://${loopback}:${ports.nodeAgent}/healthz`) };
}

/**
 * The mail catcher (see mail-catcher/catcher.ts): keeps every e-mail sent to SMTP_URL, under
 * `.local/data/mail-catcher`, and shows it on MAIL_CATCHER_URL; nothing is delivered.
 */
function mailCatcher(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const program = nodeProgram(ctx, "mail-catcher", "tools/local/src/mail-catcher/main.ts", ports.mailCatcherWeb, {
    MAIL_CATCHER_SMTP_PORT: String(ports.mailCatcherSmtp),
    MAIL_CATCHER_WEB_PORT: String(ports.mailCatcherWeb),
    MAIL_CATCHER_DATA_DIR: join(ctx.paths.data, "mail-catcher"),
  });
  // Its web side answers only once SMTP listens: /readyz on the web port covers both.
  return { ...program, ports: [ports.mailCatcherSmtp, ports.mailCatcherWeb] };
}

/**
 * The ProConnect simulator (services/proconnect-simulator): the State's federation for public
 * agents, outside the platform as ProConnect is, over TLS from the local CA, with the identity
 * registered as its service provider and the simulator's test agents of Rennes and Rennes Métropole.
 */
function proconnect(ctx: ComponentContext): Component {
  const { ports } = ctx.config;
  const tls = { cert: join(ctx.paths.pki, "proconnect.crt"), key: join(ctx.paths.pki, "proconnect.key") };
  const program = nodeProgram(ctx, "proconnect-simulator", "services/proconnect-simulator/src/main.ts", ports.proconnect, {
    HTTP_HOST: loopback,
    HTTP_PORT: String(ports.proconnect),
    PROCONNECT_TLS_CERT_FILE: tls.cert,
    PROCONNECT_TLS_KEY_FILE: tls.key,
    PROCONNECT_CLIENTS: JSON.stringify([
      {
        client_id: proconnectClientId,
        client_name: "Mutualis",
        client_secret: ensureLocalSecrets(ctx.paths.identity).proconnectSecret,
        redirect_uris: [`https://${loopback}:${ports.identity}/proconnect/retour`],
        post_logout_redirect_uris: [],
      },
    ]),
  }, {
    prepare: async () => {
      issueCertificate(ctx.paths.pki, "proconnect", { commonName: "proconnect-simulator" }, "serving");
    },
  });
  const url = `https://${loopback}:${ports.proconnect}`;
  return { ...program, endpoint: `${url}/api/v2`, ready: () => answersOk(`${url}/readyz`, { caFile: ctx.pki.ca.cert }) };
}

/**
 * The Mutualis operator against the local platform, compiled as the image ships it: the services
 * bundle built from this checkout at each start, run by plain Node.js.
 */
function operator(ctx: ComponentContext, env: Record<string, string>): Component {
  const { ports } = ctx.config;
  const bundle = servicesBundle(ctx.config);
  const program = nodeProgram(
    ctx,
    "operator",
    "operator/src/main.ts",
    ports.operator,
    {
      ...env,
      // Its heap and malloc settings, as the chart's Deployment gives them.
      ...operatorProcessEnv,
      OPERATOR_HTTP_PORT: String(ports.operator),
      OPERATOR_HTTP_HOST: loopback,
      GATEWAY_URL: `http://${loopback}:${ports.gateway}`,
      // NetworkPolicies name the ports the platform's NATS and database listen on.
      MUTUALIS_NATS_PORT: String(ports.nats),
      MUTUALIS_DATABASE_PORT: String(ports.ferretdb),
    },
    { endpoint: `http://${loopback}:${ports.operator}/metrics`, prepare: async () => void buildServicesBundle(ctx.config) },
  );
  return {
    ...program,
    daemon: { ...program.daemon, args: [bundle, "operator"], marker: bundle },
    // The process `make up` ran from the sources before the bundle: stopped if it still holds the port.
    formerMarkers: [join(ctx.config.root, "operator/src/main.ts")],
  };
}

/**
 * The platform's shared deployments, run as pods from the hosting lot's manifests, with what the
 * platform provides them (the exchange's master key, the gateway's development keys, a directory
 * for the exchange's storage claim).
 */
function sharedServices(ctx: ComponentContext, env: Record<string, string>): Component[] {
  const { ports } = ctx.config;
  return [
    // First: the others verify their callers' tokens with it.
    fromLot(ctx, env, "identity", ports.identity, { tls: true }),
    fromLot(ctx, env, "prefecture-simulator", ports.prefectureSimulator),
    fromLot(ctx, env, "actes", ports.actes),
    fromLot(ctx, env, "sesf", ports.sesf),
    fromLot(ctx, env, "ipl", ports.ipl),
    fromLot(ctx, env, "parapheur", ports.parapheur),
    fromLot(ctx, env, "flows", ports.flows),
    fromLot(ctx, env, "observatory", ports.observatory),
    fromLot(ctx, env, "gateway", ports.gateway),
    fromLot(ctx, env, "portal", ports.portal),
  ];
}

/**
 * A shared service run as the hosting lot says, from the same manifests as production: its
 * objects are applied and the node agent runs its pod; the component itself is the local
 * ingress that keeps the service's fixed port (there is no kube-proxy here).
 */
function fromLot(ctx: ComponentContext, env: Record<string, string>, service: string, port: number, options: { tls?: boolean } = {}): Component {
  const program = nodeProgram(ctx, service, "tools/local/src/ingress/main.ts", port, {
    INGRESS_KUBECONFIG: ctx.paths.kubeconfig,
    INGRESS_ROUTE: lotServiceRoute(ctx.config, env, service, port),
  }, {
    prepare: async () => {
      await applyLotService(ctx.config, env, service);
    },
  });
  // The pod's first start compiles the service: give it time. The ingress forwards only to
  // ready pods (the node agent probes their internal port), so any answer through it means one is.
  const started = { ...program, startTimeoutMs: 120_000, formerMarkers: [join(ctx.config.root, "services", service, "src", "main.ts")], ready: () => answersAtAll(`${program.endpoint}/`) };
  if (!options.tls) return started;
  // A service that terminates TLS itself (the identity) is asked over TLS, trusting the local CA.
  const url = `https://${loopback}:${port}`;
  return { ...started, endpoint: url, ready: () => answersAtAll(`${url}/`, { caFile: ctx.pki.ca.cert }) };
}

/** The components in start order; `make down` stops them in reverse. */
export function components(ctx: ComponentContext, operatorEnv: Record<string, string> = {}): Component[] {
  const agent = nodeAgent(ctx);
  const list = [etcd(ctx), apiServer(ctx), controllerManager(ctx), scheduler(ctx), kwok(ctx), ...(agent ? [agent] : []), nats(ctx), postgresql(ctx), ferretdb(ctx), prometheus(ctx), clamd(ctx), mailCatcher(ctx), proconnect(ctx)];
  if (ctx.config.withOperator) list.push(operator(ctx, operatorEnv), ...sharedServices(ctx, operatorEnv));
  return list;
}
