import * as k8s from "./kube.ts";
import { Construct } from "constructs";
import { stringify } from "yaml";
import { databaseBootstrapSql } from "./database-roles.ts";
import { podScrapeRelabelling, type RuleGroup } from "./monitoring.ts";
import { labels, restrictedNamespaceLabels, zonePolicy, zonesConfigMap } from "./names.ts";
import { restrictedContainerSecurity, restrictedPodSecurity, type PodResources } from "./service.ts";
import { allowDns, defaultDeny } from "./tenant.ts";

const partOf = { [labels.partOf]: "mutualis" };
const resources = (r: PodResources): k8s.ResourceRequirements => ({
  requests: { cpu: r.cpu, memory: r.memory },
  limits: { cpu: r.cpuLimit, memory: r.memoryLimit },
});

export interface HostingZone {
  /** The zone, as Collectivities and nodes (topology.kubernetes.io/zone) name it. */
  readonly name: string;
  /** Its region (topology.kubernetes.io/region); empty when the platform does not say. */
  readonly region: string;
}

/**
 * The hosting zones a Collectivity may choose: their list (a ConfigMap, one key per zone), and
 * the admission policy that refuses a Collectivity in any other zone with a clear message.
 */
export class HostingZones extends Construct {
  constructor(scope: Construct, id: string, props: { readonly namespace: string; readonly zones: readonly HostingZone[]; readonly labels?: Record<string, string> }) {
    super(scope, id);
    const common = { ...partOf, ...props.labels };
    new k8s.KubeConfigMap(this, "zones", {
      metadata: { name: zonesConfigMap, namespace: props.namespace, labels: common },
      // One key per zone (what the policy checks); its value names the zone's region when known.
      data: Object.fromEntries(props.zones.map((zone) => [zone.name, zone.region || "available"])),
    });
    new k8s.KubeValidatingAdmissionPolicy(this, "policy", {
      metadata: { name: zonePolicy, labels: common },
      spec: {
        failurePolicy: "Fail",
        paramKind: { apiVersion: "v1", kind: "ConfigMap" },
        matchConstraints: {
          resourceRules: [{ apiGroups: ["mutualis.fr"], apiVersions: ["*"], operations: ["CREATE"], resources: ["collectivities"] }],
        },
        validations: [
          {
            expression: "has(params.data) && object.spec.zone in params.data",
            messageExpression:
              "'spec.zone: ' + object.spec.zone + ' is not a hosting zone of this platform; known zones: ' + (has(params.data) ? params.data.map(z, z).join(', ') : 'none')",
            reason: "Invalid",
          },
        ],
      },
    });
    new k8s.KubeValidatingAdmissionPolicyBinding(this, "binding", {
      metadata: { name: zonePolicy, labels: common },
      spec: {
        policyName: zonePolicy,
        paramRef: { name: zonesConfigMap, namespace: props.namespace, parameterNotFoundAction: "Deny" },
        validationActions: ["Deny"],
      },
    });
  }
}

/** A platform namespace: Pod Security `restricted`, default deny both ways, DNS allowed. */
export class PlatformNamespace extends Construct {
  constructor(scope: Construct, id: string, props: { readonly name: string }) {
    super(scope, id);
    new k8s.KubeNamespace(this, "namespace", { metadata: { name: props.name, labels: { ...partOf, ...restrictedNamespaceLabels } } });
    const metadata = { namespace: props.name, labels: partOf };
    defaultDeny(this, metadata);
    allowDns(this, metadata);
  }
}

/** Who may reach a platform component, and what it may reach. */
export interface Reach {
  readonly namespace: string;
  /** A platform component's label, or any pod of the namespace when absent. */
  readonly component?: string;
  /** Namespaces with this label (tenants: mutualis.fr/collectivity) instead of one by name. */
  readonly namespacesLabelled?: string;
}

function peer(reach: Reach): k8s.NetworkPolicyPeer {
  return {
    namespaceSelector: reach.namespacesLabelled
      ? { matchExpressions: [{ key: reach.namespacesLabelled, operator: "Exists" }] }
      : { matchLabels: { "kubernetes.io/metadata.name": reach.namespace } },
    ...(reach.component ? { podSelector: { matchLabels: { [labels.platformComponent]: reach.component } } } : {}),
  };
}

/** What one component of a default-deny namespace is allowed: ingress on its ports, egress to others. */
export class ComponentNetworkPolicy extends Construct {
  constructor(
    scope: Construct,
    id: string,
    props: {
      readonly namespace: string;
      readonly component: string;
      readonly ingress?: readonly { readonly from: readonly Reach[]; readonly ports: readonly number[] }[];
      readonly egress?: readonly { readonly to: readonly Reach[]; readonly ports: readonly number[] }[];
      /** Egress to the Kubernetes API server (outside any namespace: by port only). */
      readonly apiServerPort?: number;
    },
  ) {
    super(scope, id);
    const ports = (list: readonly number[]) => list.map((port) => ({ protocol: "TCP", port: port }));
    new k8s.KubeNetworkPolicy(this, "policy", {
      metadata: { name: `allow-${props.component}`, namespace: props.namespace, labels: partOf },
      spec: {
        podSelector: { matchLabels: { [labels.platformComponent]: props.component } },
        policyTypes: ["Ingress", "Egress"],
        ingress: (props.ingress ?? []).map((rule) => ({ from: rule.from.map(peer), ports: ports(rule.ports) })),
        egress: [
          ...(props.egress ?? []).map((rule) => ({ to: rule.to.map(peer), ports: ports(rule.ports) })),
          ...(props.apiServerPort ? [{ ports: ports([props.apiServerPort]) }] : []),
        ],
      },
    });
  }
}

export interface NatsClusterProps {
  readonly namespace: string;
  readonly image: string;
  /** 3 in production (a JetStream quorum survives a zone's loss); 1 locally. */
  readonly replicas: number;
  readonly jetstreamStorage: string;
  readonly resources: PodResources;
  /**
   * A Secret with `auth.conf`: the operator's JWT, the system account and the account resolver,
   * which the Mutualis operator then fills with one account per collectivity.
   */
  readonly authSecret: string;
  readonly clientPort: number;
}

/** NATS with JetStream: a StatefulSet spread across zones, routes between its nodes, a client Service. */
export class NatsCluster extends Construct {
  constructor(scope: Construct, id: string, props: NatsClusterProps) {
    super(scope, id);
    const name = "nats";
    const selector = { [labels.name]: "nats", [labels.platformComponent]: "nats" };
    const metadata = { namespace: props.namespace, labels: { ...selector, ...partOf } };
    const routes = Array.from({ length: props.replicas }, (_, i) => `nats://${name}-${i}.${name}-cluster.${props.namespace}.svc:6222`);
    const config = [
      `port: ${props.clientPort}`,
      "http_port: 8222",
      "server_name: $SERVER_NAME",
      "jetstream { store_dir: /data/jetstream, max_file_store: " + JSON.stringify(props.jetstreamStorage.replace(/i$/, "")) + " }",
      ...(props.replicas > 1 ? [`cluster { name: mutualis, port: 6222, routes: [${routes.map((r) => JSON.stringify(r)).join(", ")}] }`] : []),
      "include /etc/nats-auth/auth.conf",
      "",
    ].join("\n");
    new k8s.KubeConfigMap(this, "config", { metadata: { ...metadata, name: `${name}-config` }, data: { "nats.conf": config } });
    new k8s.KubeService(this, "client", {
      metadata: { ...metadata, name },
      spec: { selector, ports: [{ name: "client", port: props.clientPort, targetPort: "client" }] },
    });
    new k8s.KubeService(this, "cluster", {
      metadata: { ...metadata, name: `${name}-cluster` },
      spec: { clusterIP: "None", publishNotReadyAddresses: true, selector, ports: [{ name: "cluster", port: 6222, targetPort: "cluster" }] },
    });
    new k8s.KubeStatefulSet(this, "statefulset", {
      metadata: { ...metadata, name },
      spec: {
        serviceName: `${name}-cluster`,
        replicas: props.replicas,
        podManagementPolicy: "Parallel",
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector, annotations: { "prometheus.io/scrape": "false" } },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { ...restrictedPodSecurity, fsGroup: 10001 },
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: selector } }],
            containers: [
              {
                name: "nats",
                image: props.image,
                args: ["--config", "/etc/nats/nats.conf"],
                env: [{ name: "SERVER_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                ports: [
                  { name: "client", containerPort: props.clientPort },
                  { name: "cluster", containerPort: 6222 },
                  { name: "monitor", containerPort: 8222 },
                ],
                resources: resources(props.resources),
                readinessProbe: { httpGet: { path: "/healthz?js-enabled-only=true", port: "monitor" }, periodSeconds: 10 },
                livenessProbe: { httpGet: { path: "/healthz?js-enabled-only=true", port: "monitor" }, periodSeconds: 30, failureThreshold: 5 },
                securityContext: restrictedContainerSecurity,
                volumeMounts: [
                  { name: "config", mountPath: "/etc/nats", readOnly: true },
                  { name: "auth", mountPath: "/etc/nats-auth", readOnly: true },
                  { name: "data", mountPath: "/data" },
                ],
              },
            ],
            volumes: [
              { name: "config", configMap: { name: `${name}-config` } },
              { name: "auth", secret: { secretName: props.authSecret } },
            ],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: props.jetstreamStorage } } } }],
      },
    });
    if (props.replicas > 1) {
      new k8s.KubePodDisruptionBudget(this, "budget", { metadata: { ...metadata, name }, spec: { maxUnavailable: 1, selector: { matchLabels: selector } } });
    }
  }
}

export interface DatabaseProps {
  readonly namespace: string;
  /** FerretDB built with the project's patches (tools/ferretdb/patches). */
  readonly ferretdbImage: string;
  readonly port: number;
  readonly resources: PodResources;
  readonly storage: string;
  /** FerretDB's pods (stateless). */
  readonly replicas: number;
  /** PostgreSQL's passwords and FerretDB's URL (externalSecrets.postgresql). */
  readonly postgresqlSecret: string;
  /** FerretDB's serving certificate (tls.crt, tls.key): it listens on TLS only. */
  readonly tlsSecret: string;
  readonly postgresImage: string;
}

/**
 * The MongoDB-wire database of every service and tenant: FerretDB on PostgreSQL, over TLS only
 * (PLAIN carries passwords), never at debug level (which logs them). PostgreSQL's grants keep
 * each role to its database (databaseRoles; the operator makes one per collectivity and per
 * shared service).
 */
export class Database extends Construct {
  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const selector = { [labels.name]: "ferretdb", [labels.platformComponent]: "database" };
    const metadata = { namespace: props.namespace, labels: { ...selector, ...partOf } };
    new PostgreSql(this, "postgresql", { namespace: props.namespace, image: props.postgresImage, storage: props.storage, secret: props.postgresqlSecret, resources: props.resources });
    new k8s.KubeDeployment(this, "ferretdb", {
      metadata: { ...metadata, name: "ferretdb" },
      spec: {
        replicas: props.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector, annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "8088", "prometheus.io/path": "/debug/metrics" } },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { ...restrictedPodSecurity, fsGroup: 10001 },
            containers: [
              {
                name: "ferretdb",
                image: props.ferretdbImage,
                env: [
                  { name: "FERRETDB_HANDLER", value: "pg" },
                  { name: "FERRETDB_POSTGRESQL_URL", valueFrom: { secretKeyRef: { name: props.postgresqlSecret, key: "url" } } },
                  { name: "FERRETDB_LISTEN_ADDR", value: "" },
                  { name: "FERRETDB_LISTEN_TLS", value: `:${props.port}` },
                  { name: "FERRETDB_LISTEN_TLS_CERT_FILE", value: "/tls/tls.crt" },
                  { name: "FERRETDB_LISTEN_TLS_KEY_FILE", value: "/tls/tls.key" },
                  { name: "FERRETDB_LOG_LEVEL", value: "warn" },
                  { name: "FERRETDB_DEBUG_ADDR", value: ":8088" },
                  { name: "FERRETDB_TELEMETRY", value: "disable" },
                ],
                ports: [
                  { name: "mongodb", containerPort: props.port },
                  { name: "debug", containerPort: 8088 },
                ],
                resources: resources(props.resources),
                readinessProbe: { httpGet: { path: "/debug/readyz", port: "debug" }, periodSeconds: 5 },
                securityContext: restrictedContainerSecurity,
                volumeMounts: [{ name: "tls", mountPath: "/tls", readOnly: true }],
              },
            ],
            volumes: [{ name: "tls", secret: { secretName: props.tlsSecret, defaultMode: 0o400 } }],
          },
        },
      },
    });
    new k8s.KubeService(this, "service", {
      metadata: { ...metadata, name: "database" },
      spec: { selector, ports: [{ name: "mongodb", port: props.port, targetPort: "mongodb" }] },
    });
  }
}

/**
 * PostgreSQL for FerretDB: one instance on a persistent volume (replication is the storage
 * class's, or a PostgreSQL operator's). At its first start the image runs the platform's role
 * script (databaseBootstrapSql), the passwords from its Secret; run it again (psql, as the
 * superuser) after changing them.
 */
class PostgreSql extends Construct {
  constructor(scope: Construct, id: string, props: { namespace: string; image: string; storage: string; secret: string; resources: PodResources }) {
    super(scope, id);
    const selector = { [labels.name]: "postgresql", [labels.platformComponent]: "database-storage" };
    const metadata = { namespace: props.namespace, name: "postgresql", labels: { ...selector, ...partOf } };
    new k8s.KubeConfigMap(this, "init", {
      metadata: { ...metadata, name: "postgresql-init" },
      data: {
        // Not *.sql: the image would run it without the variables.
        "mutualis-roles.psql": databaseBootstrapSql(),
        "10-mutualis-roles.sh": [
          "#!/bin/sh",
          "set -eu",
          'psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \\',
          '  -v ferretdb_password="$MUTUALIS_FERRETDB_PASSWORD" -v admin_password="$MUTUALIS_ADMIN_PASSWORD" \\',
          "  -f /docker-entrypoint-initdb.d/mutualis-roles.psql",
          "",
        ].join("\n"),
      },
    });
    new k8s.KubeService(this, "service", {
      metadata,
      spec: { clusterIP: "None", selector, ports: [{ name: "postgresql", port: 5432, targetPort: "postgresql" }] },
    });
    const password = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: props.secret, key } } });
    new k8s.KubeStatefulSet(this, "statefulset", {
      metadata,
      spec: {
        serviceName: "postgresql",
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { ...restrictedPodSecurity, runAsUser: 999, runAsGroup: 999, fsGroup: 999 },
            containers: [
              {
                name: "postgresql",
                image: props.image,
                env: [
                  // The superuser is PostgreSQL's own; FerretDB's role may do nothing.
                  { name: "POSTGRES_USER", value: "postgres" },
                  { name: "POSTGRES_DB", value: "postgres" },
                  password("POSTGRES_PASSWORD", "password"),
                  password("MUTUALIS_FERRETDB_PASSWORD", "ferretdb-password"),
                  password("MUTUALIS_ADMIN_PASSWORD", "admin-password"),
                  { name: "POSTGRES_INITDB_ARGS", value: "--auth-host=scram-sha-256" },
                  { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
                ],
                ports: [{ name: "postgresql", containerPort: 5432 }],
                resources: resources(props.resources),
                readinessProbe: { exec: { command: ["pg_isready", "-U", "postgres"] }, periodSeconds: 10 },
                securityContext: { ...restrictedContainerSecurity, readOnlyRootFilesystem: false },
                volumeMounts: [
                  { name: "data", mountPath: "/var/lib/postgresql/data" },
                  { name: "run", mountPath: "/var/run/postgresql" },
                  { name: "init", mountPath: "/docker-entrypoint-initdb.d", readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: "run", emptyDir: {} },
              { name: "init", configMap: { name: "postgresql-init", defaultMode: 0o555 } },
            ],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: props.storage } } } }],
      },
    });
  }
}

export interface PrometheusProps {
  readonly namespace: string;
  readonly image: string;
  readonly replicas: number;
  readonly retention: string;
  readonly storage: string;
  readonly resources: PodResources;
  /** The rule groups it evaluates (operatorAlerts, platformAlerts). */
  readonly ruleGroups: readonly RuleGroup[];
}

/**
 * Prometheus for the platform: finds every pod announcing prometheus.io/scrape through the API
 * server (read-only on pods, nothing else), evaluates the Mutualis alerting rules, keeps
 * `retention` of history on a volume.
 */
export class Prometheus extends Construct {
  constructor(scope: Construct, id: string, props: PrometheusProps) {
    super(scope, id);
    const selector = { [labels.name]: "prometheus", [labels.platformComponent]: "prometheus" };
    const metadata = { namespace: props.namespace, labels: { ...selector, ...partOf } };
    const name = "prometheus";
    new k8s.KubeServiceAccount(this, "account", { metadata: { ...metadata, name } });
    const roleName = `mutualis:${name}`;
    new k8s.KubeClusterRole(this, "role", {
      metadata: { name: roleName, labels: partOf },
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
        { nonResourceURLs: ["/metrics"], verbs: ["get"] },
      ],
    });
    new k8s.KubeClusterRoleBinding(this, "binding", {
      metadata: { name: roleName, labels: partOf },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
      subjects: [{ kind: "ServiceAccount", name, namespace: props.namespace }],
    });
    const config = {
      global: { scrape_interval: "15s", evaluation_interval: "15s" },
      rule_files: ["/etc/prometheus/rules/*.yml"],
      scrape_configs: [
        { job_name: "prometheus", static_configs: [{ targets: ["localhost:9090"] }] },
        { job_name: "mutualis-pods", kubernetes_sd_configs: [{ role: "pod" }], relabel_configs: podScrapeRelabelling() },
      ],
    };
    new k8s.KubeConfigMap(this, "config", { metadata: { ...metadata, name: `${name}-config` }, data: { "prometheus.yml": stringify(config, { lineWidth: 0 }) } });
    new k8s.KubeConfigMap(this, "rules", { metadata: { ...metadata, name: `${name}-rules` }, data: { "mutualis.yml": stringify({ groups: props.ruleGroups }, { lineWidth: 0 }) } });
    new k8s.KubeService(this, "service", {
      metadata: { ...metadata, name },
      spec: { selector, ports: [{ name: "http", port: 9090, targetPort: "http" }] },
    });
    new k8s.KubeStatefulSet(this, "statefulset", {
      metadata: { ...metadata, name },
      spec: {
        serviceName: name,
        replicas: props.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector },
          spec: {
            serviceAccountName: name,
            securityContext: { ...restrictedPodSecurity, fsGroup: 10001 },
            containers: [
              {
                name: "prometheus",
                image: props.image,
                args: [
                  "--config.file=/etc/prometheus/prometheus.yml",
                  "--storage.tsdb.path=/prometheus",
                  `--storage.tsdb.retention.time=${props.retention}`,
                  "--web.enable-lifecycle",
                ],
                ports: [{ name: "http", containerPort: 9090 }],
                resources: resources(props.resources),
                readinessProbe: { httpGet: { path: "/-/ready", port: "http" }, periodSeconds: 10 },
                livenessProbe: { httpGet: { path: "/-/healthy", port: "http" }, periodSeconds: 30 },
                securityContext: restrictedContainerSecurity,
                volumeMounts: [
                  { name: "config", mountPath: "/etc/prometheus", readOnly: true },
                  { name: "rules", mountPath: "/etc/prometheus/rules", readOnly: true },
                  { name: "data", mountPath: "/prometheus" },
                ],
              },
            ],
            volumes: [
              { name: "config", configMap: { name: `${name}-config` } },
              { name: "rules", configMap: { name: `${name}-rules` } },
            ],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: props.storage } } } }],
      },
    });
  }
}

/** ClamAV's daemon, scanning the secure file exchange's uploads (INSTREAM on 3310); freshclam keeps its signatures current. */
export class Antivirus extends Construct {
  constructor(scope: Construct, id: string, props: { readonly namespace: string; readonly image: string; readonly resources: PodResources }) {
    super(scope, id);
    const selector = { [labels.name]: "clamav", [labels.platformComponent]: "antivirus" };
    const metadata = { namespace: props.namespace, name: "clamav", labels: { ...selector, ...partOf } };
    new k8s.KubeService(this, "service", { metadata, spec: { selector, ports: [{ name: "clamd", port: 3310, targetPort: "clamd" }] } });
    new k8s.KubeDeployment(this, "deployment", {
      metadata,
      spec: {
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { ...restrictedPodSecurity, runAsUser: 100, runAsGroup: 101, fsGroup: 101 },
            containers: [
              {
                name: "clamav",
                image: props.image,
                ports: [{ name: "clamd", containerPort: 3310 }],
                resources: resources(props.resources),
                readinessProbe: { tcpSocket: { port: "clamd" }, periodSeconds: 10, initialDelaySeconds: 30 },
                securityContext: { ...restrictedContainerSecurity, readOnlyRootFilesystem: false },
                // clamd keeps each stream it scans in a temporary file under /tmp: in memory, so
                // that no plaintext of an upload reaches a disk. It counts against the memory
                // limit: size the antivirus for the largest file times the scans at once.
                volumeMounts: [
                  { name: "signatures", mountPath: "/var/lib/clamav" },
                  { name: "scans", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "signatures", emptyDir: {} },
              { name: "scans", emptyDir: { medium: "Memory", sizeLimit: "5Gi" } },
            ],
          },
        },
      },
    });
  }
}
