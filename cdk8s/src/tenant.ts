import * as k8s from "./kube.ts";
import { Construct } from "constructs";
import { annotations, labels, restrictedNamespaceLabels, tenantNamespace, zoneLabel } from "./names.ts";
import type { OwnerReference } from "./render.ts";
import { internalPort } from "./service.ts";

/** The port every service serves its API on, in its pods. */
const servicePort = 8080;

/** Who a tenant is, as every object of its environment records it. */
export interface TenantProps {
  /** The Collectivity's name; its namespace is coll-<name>. */
  readonly name: string;
  readonly zone: string;
  readonly displayName: string;
  readonly siren: string;
  /** Who manages the objects (app.kubernetes.io/managed-by). */
  readonly managedBy: string;
  /** The Collectivity, when the operator renders: garbage collection then removes the objects with it. */
  readonly owner?: OwnerReference;
}

/** A tenant's namespace. */
export interface TenantNamespaceProps {
  readonly tenant: TenantProps;
}

/** A tenant's ResourceQuota and LimitRange. */
export interface TenantQuotaConstructProps {
  readonly tenant: TenantProps;
  /** What the namespace may use in all, and what one container gets by default. */
  readonly quota: TenantQuotaProps;
}

/** A tenant's network policies. */
export interface TenantNetworkPoliciesProps {
  readonly tenant: TenantProps;
  /** Where the platform's shared components are. */
  readonly network: PlatformNetwork;
}

/** Who administers a tenant. */
export interface TenantAccessProps {
  readonly tenant: TenantProps;
  /**
   * The collectivity's administrators (people and groups of the platform's identity).
   * @default none: only the identity's role groups of the collectivity are bound
   */
  readonly administrators?: Administrators;
}

/** A tenant's NATS credentials, for its workloads. */
export interface TenantNatsCredentialsProps {
  readonly tenant: TenantProps;
  readonly natsUrl: string;
  /** The user's creds file (JWT and seed). */
  readonly creds: Uint8Array;
}

/** How a tenant's workloads reach their database. */
export interface TenantDatabaseCredentialsProps {
  readonly tenant: TenantProps;
  /** The tenant's own role's address (name and password), over TLS. */
  readonly uri: string;
  readonly database: string;
  /**
   * The CA that signed the database's certificate, when it is a private one (`MONGODB_CA`).
   * @default none: the system's CAs
   */
  readonly caPem?: string;
}

function tenantMetadata(tenant: TenantProps, name: string, namespaced = true): k8s.ObjectMeta {
  return {
    name,
    ...(namespaced ? { namespace: tenantNamespace(tenant.name) } : {}),
    labels: { [labels.collectivity]: tenant.name, [labels.managedBy]: tenant.managedBy, [labels.partOf]: "mutualis" },
    ...(tenant.owner ? { ownerReferences: [tenant.owner] } : {}),
  };
}

/**
 * The tenant namespace: Pod Security `restricted` enforced, and every pod pinned to the
 * collectivity's zone by the PodNodeSelector admission plugin (data residency).
 */
export class TenantNamespace extends Construct {
  constructor(scope: Construct, id: string, props: TenantNamespaceProps) {
    const { tenant } = props;
    super(scope, id);
    const metadata = tenantMetadata(tenant, tenantNamespace(tenant.name), false);
    new k8s.KubeNamespace(this, "namespace", {
      metadata: {
        ...metadata,
        labels: { ...metadata.labels, [labels.zone]: tenant.zone, ...restrictedNamespaceLabels },
        annotations: {
          [annotations.namespaceNodeSelector]: `${zoneLabel}=${tenant.zone}`,
          [annotations.displayName]: tenant.displayName,
          [annotations.siren]: tenant.siren,
        },
      },
    });
  }
}

/** The resources a tenant may use, every field decided. */
export interface TenantQuotaProps {
  readonly cpu: string;
  readonly memory: string;
  readonly storage: string;
  readonly pods: number;
  readonly serviceInstances: number;
  /** Each container's defaults when its pod says nothing (never above the quota). */
  readonly containerDefaults: { readonly cpuRequest: string; readonly memoryRequest: string; readonly cpuLimit: string; readonly memoryLimit: string };
}

/** The ResourceQuota and LimitRange that hold the tenant to its quota. */
export class TenantQuota extends Construct {
  constructor(scope: Construct, id: string, props: TenantQuotaConstructProps) {
    const { tenant, quota } = props;
    super(scope, id);
    new k8s.KubeResourceQuota(this, "quota", {
      metadata: tenantMetadata(tenant, "tenant-quota"),
      spec: {
        hard: {
          "requests.cpu": quota.cpu,
          "requests.memory": quota.memory,
          "limits.memory": quota.memory,
          "requests.storage": quota.storage,
          pods: String(quota.pods),
          "count/serviceinstances.mutualis.fr": String(quota.serviceInstances),
        },
      },
    });
    const defaults = quota.containerDefaults;
    new k8s.KubeLimitRange(this, "limits", {
      metadata: tenantMetadata(tenant, "tenant-limits"),
      spec: {
        limits: [
          {
            type: "Container",
            defaultRequest: { cpu: defaults.cpuRequest, memory: defaults.memoryRequest },
            default: { cpu: defaults.cpuLimit, memory: defaults.memoryLimit },
            max: { cpu: quota.cpu, memory: quota.memory },
          },
        ],
      },
    });
  }
}

/** Where the platform's shared components are, for a tenant's network policies. */
export interface PlatformNetwork {
  /** The namespace of the platform's shared components (NATS, database, gateway). */
  readonly platformNamespace: string;
  /** The namespace of Prometheus (the same as the platform's when there is one namespace). */
  readonly monitoringNamespace?: string;
  readonly natsPort: number;
  readonly databasePort: number;
}

const inNamespace = (name: string): k8s.NetworkPolicyPeer => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } } });
const componentIn = (namespace: string, component: string): k8s.NetworkPolicyPeer => ({
  ...inNamespace(namespace),
  podSelector: { matchLabels: { [labels.platformComponent]: component } },
});
const tcp = (port: number): k8s.NetworkPolicyPort => ({ protocol: "TCP", port: port });

/** Default deny, in both directions, for every pod of a namespace. */
export function defaultDeny(scope: Construct, metadata: k8s.ObjectMeta): void {
  new k8s.KubeNetworkPolicy(scope, "default-deny", { metadata: { ...metadata, name: "default-deny" }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } });
}

/** Egress to the cluster's DNS only. */
export function allowDns(scope: Construct, metadata: k8s.ObjectMeta): void {
  new k8s.KubeNetworkPolicy(scope, "allow-dns", {
    metadata: { ...metadata, name: "allow-dns" },
    spec: {
      podSelector: {},
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
    },
  });
}

/**
 * Default deny in both directions, then only what a tenant needs: its own namespace, DNS, the
 * platform's NATS and database, and ingress from the platform gateway and Prometheus.
 */
export class TenantNetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: TenantNetworkPoliciesProps) {
    const { tenant, network } = props;
    super(scope, id);
    const metadata = (name: string) => tenantMetadata(tenant, name);
    const monitoring = network.monitoringNamespace ?? network.platformNamespace;
    defaultDeny(this, metadata("default-deny"));
    new k8s.KubeNetworkPolicy(this, "allow-same-namespace", {
      metadata: metadata("allow-same-namespace"),
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{ from: [{ podSelector: {} }] }], egress: [{ to: [{ podSelector: {} }] }] },
    });
    allowDns(this, metadata("allow-dns"));
    new k8s.KubeNetworkPolicy(this, "allow-platform-services", {
      metadata: metadata("allow-platform-services"),
      spec: {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [
          { to: [componentIn(network.platformNamespace, "nats")], ports: [tcp(network.natsPort)] },
          { to: [componentIn(network.platformNamespace, "database")], ports: [tcp(network.databasePort)] },
        ],
      },
    });
    new k8s.KubeNetworkPolicy(this, "allow-from-gateway-and-monitoring", {
      metadata: metadata("allow-from-gateway-and-monitoring"),
      spec: {
        podSelector: {},
        policyTypes: ["Ingress"],
        // The gateway reaches the services' port; Prometheus their internal one (metrics), nothing else.
        ingress: [
          { from: [componentIn(network.platformNamespace, "gateway")], ports: [tcp(servicePort)] },
          { from: [componentIn(monitoring, "prometheus")], ports: [tcp(internalPort)] },
        ],
      },
    });
  }
}

const read = ["get", "list", "watch"];

/** What a collectivity's administrators may do, in their namespace only. */
export const administratorRules = [
  {
    apiGroups: ["mutualis.fr"],
    resources: ["serviceinstances", "secureshares"],
    verbs: [...read, "create", "update", "patch", "delete"],
  },
  { apiGroups: ["mutualis.fr"], resources: ["serviceinstances/status", "secureshares/status"], verbs: ["get"] },
  { apiGroups: [""], resources: ["pods", "pods/log", "services", "events", "resourcequotas", "limitranges"], verbs: read },
  { apiGroups: ["apps"], resources: ["deployments", "replicasets", "statefulsets"], verbs: read },
  { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: read },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: read },
];

/** The roles a person may hold in a collectivity (the identity service's; its tokens' groups name them). */
export const identityRoles = ["agent", "signataire", "secretaire", "elu", "administrateur"] as const;

/** What every member of a collectivity may read: which services it has (the portal shows them). */
export const memberRules = [{ apiGroups: ["mutualis.fr"], resources: ["serviceinstances"], verbs: ["get", "list"] }];

/**
 * The prefix the API server gives the users and groups of the platform's identity service (its
 * authentication configuration), so that no token names one of the cluster's own.
 */
export const identityPrefix = "oidc:";

/** The collectivity's administrators, from its spec. */
export interface Administrators {
  readonly users?: readonly string[];
  readonly groups?: readonly string[];
}

/** The collectivity-admin Role (administratorRules) and its binding to the collectivity's administrators. */
export class TenantAccess extends Construct {
  constructor(scope: Construct, id: string, props: TenantAccessProps) {
    const { tenant, administrators = {} } = props;
    super(scope, id);
    new k8s.KubeRole(this, "role", { metadata: tenantMetadata(tenant, "collectivity-admin"), rules: administratorRules });
    new k8s.KubeRoleBinding(this, "binding", {
      metadata: tenantMetadata(tenant, "collectivity-admins"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "collectivity-admin" },
      // The platform's people, as the API server names them (its authentication configuration's
      // prefix): no name here can be one of the cluster's own.
      subjects: [
        { apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: `${identityPrefix}mutualis:${tenant.name}:administrateur` },
        ...(administrators.users ?? []).map((name) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: `${identityPrefix}${name}` })),
        ...(administrators.groups ?? []).map((name) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: `${identityPrefix}${name}` })),
      ],
    });
    // Every person with a role in the collectivity (the identity's groups) sees its services.
    new k8s.KubeRole(this, "member-role", { metadata: tenantMetadata(tenant, "collectivity-member"), rules: memberRules });
    new k8s.KubeRoleBinding(this, "member-binding", {
      metadata: tenantMetadata(tenant, "collectivity-members"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "collectivity-member" },
      subjects: identityRoles.map((role) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: `${identityPrefix}mutualis:${tenant.name}:${role}` })),
    });
  }
}

const base64 = (text: string | Uint8Array) => Buffer.from(text).toString("base64");

/** The tenant's NATS credentials, for its workloads; the account's keys stay with the operator. */
export class TenantNatsCredentials extends Construct {
  static readonly secretName = "nats-credentials";
  constructor(scope: Construct, id: string, props: TenantNatsCredentialsProps) {
    const { tenant, ...connection } = props;
    super(scope, id);
    new k8s.KubeSecret(this, "secret", {
      metadata: tenantMetadata(tenant, TenantNatsCredentials.secretName),
      type: "Opaque",
      data: { "user.creds": base64(connection.creds), NATS_URL: base64(connection.natsUrl) },
    });
  }
}

/** How the tenant's workloads reach their database. */
export class TenantDatabaseCredentials extends Construct {
  static readonly secretName = "database";
  constructor(scope: Construct, id: string, props: TenantDatabaseCredentialsProps) {
    const { tenant, ...connection } = props;
    super(scope, id);
    new k8s.KubeSecret(this, "secret", {
      metadata: tenantMetadata(tenant, TenantDatabaseCredentials.secretName),
      type: "Opaque",
      data: {
        MONGODB_URI: base64(connection.uri),
        MONGODB_DATABASE: base64(connection.database),
        ...(connection.caPem ? { MONGODB_CA: base64(connection.caPem) } : {}),
      },
    });
  }
}

export interface TenantEnvironmentProps {
  readonly tenant: TenantProps;
  readonly quota: TenantQuotaProps;
  readonly network: PlatformNetwork;
  readonly administrators: Administrators;
  /** The tenant's credentials, once its NATS account and database user exist. */
  readonly connections?: {
    readonly natsUrl: string;
    readonly natsCreds: Uint8Array;
    readonly databaseUri: string;
    readonly database: string;
  };
}

/**
 * A collectivity's whole environment: namespace, quota and limits, network policies, its
 * administrators' access, and its credentials. The operator renders the same parts one step at
 * a time (its conditions report each); the benchmark's floor creates this whole.
 */
export class TenantEnvironment extends Construct {
  constructor(scope: Construct, id: string, props: TenantEnvironmentProps) {
    super(scope, id);
    const { tenant } = props;
    new TenantNamespace(this, "namespace", { tenant });
    new TenantQuota(this, "quota", { tenant, quota: props.quota });
    new TenantNetworkPolicies(this, "network", { tenant, network: props.network });
    new TenantAccess(this, "access", { tenant, administrators: props.administrators });
    if (props.connections) {
      new TenantNatsCredentials(this, "nats", { tenant, natsUrl: props.connections.natsUrl, creds: props.connections.natsCreds });
      new TenantDatabaseCredentials(this, "database", { tenant, uri: props.connections.databaseUri, database: props.connections.database });
    }
  }
}
