import * as k8s from "./kube.ts";
import { Construct } from "constructs";
import { labels } from "./names.ts";
import type { OwnerReference } from "./render.ts";

/** Requests and limits of one pod. Limits are explicit: a namespace's default could be below the requests. */
export interface PodResources {
  readonly cpu: string;
  readonly memory: string;
  readonly cpuLimit: string;
  readonly memoryLimit: string;
}

/** A volume of the service, mounted at `path`: its storage (a claim, or an emptyDir), or a Secret's files. */
export interface ServiceVolume {
  readonly name: string;
  readonly path: string;
  /** A PersistentVolumeClaim's name. */
  readonly claim?: string;
  /** A Secret's name, mounted read-only. */
  readonly secret?: string;
}

/**
 * Whom a deployment of a service serves, chosen with a static factory (as cdk8s-plus does for
 * its choices): the platform's shared deployment, or one collectivity's dedicated one.
 */
export class Tenancy {
  /** The platform's one deployment, for every collectivity enabled on it; spread across the hosting zones. */
  static shared(): Tenancy {
    return new Tenancy("shared", "shared");
  }

  /** A collectivity's own deployment for one ServiceInstance (named `instance`); it stays in its tenant's zone. */
  static dedicated(instance: string): Tenancy {
    return new Tenancy("dedicated", instance);
  }

  private constructor(
    readonly kind: "shared" | "dedicated",
    /** The app.kubernetes.io/instance label of its objects. */
    readonly instance: string,
  ) {}
}

export interface ServiceDeploymentProps {
  /** The Deployment's and Service's name. */
  readonly name: string;
  readonly namespace: string;
  /** The catalogue's service (app.kubernetes.io/name) and what the services image runs for it. */
  readonly service: string;
  readonly command: string;
  /** Whom it serves: `Tenancy.shared()` or `Tenancy.dedicated(instance)` (its app.kubernetes.io/instance label). */
  readonly tenancy: Tenancy;
  readonly image: string;
  readonly port: number;
  readonly replicas: number;
  readonly resources: PodResources;
  /** The Secret with the service's NATS credentials (`user.creds`, and `NATS_URL` unless natsUrl is given). */
  readonly natsSecret: string;
  /**
   * Where NATS is, when the deployer knows it (the platform's shared services).
   * @default read from natsSecret's `NATS_URL`
   */
  readonly natsUrl?: string;
  /**
   * Nodes the pods must run on (labels), beyond the namespace's own selector.
   * @default none
   */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /**
   * The service's own settings (database, tenant…), after the common ones.
   * @default none
   */
  readonly env?: readonly k8s.EnvVar[];
  /**
   * Volumes mounted in the service's container.
   * @default none
   */
  readonly volumes?: readonly ServiceVolume[];
  /**
   * Labels of its objects, beyond app.kubernetes.io/name and instance.
   * @default none
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Annotations of the pods: a revision of what they read only at start (their NATS credentials),
   * so that a change rolls them out.
   */
  readonly podAnnotations?: Readonly<Record<string, string>>;
  readonly owner?: OwnerReference;
  /**
   * A ServiceAccount whose token the pods get (the gateway's, which calls the API server).
   * @default none: the pods get no token
   */
  readonly serviceAccount?: string;
  /**
   * Spread the pods across the hosting zones.
   * @default true for a shared deployment without a nodeSelector; a dedicated one stays in its tenant's zone
   */
  readonly spreadAcrossZones?: boolean;
}

const natsMount = "/var/run/mutualis/nats";

/** Where every service serves its health, readiness and metrics (HTTP_INTERNAL_PORT): never through its Service. */
export const internalPort = 9464;

/** The security context Pod Security `restricted` requires, for every Mutualis pod. */
export const restrictedPodSecurity: k8s.PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: 10001,
  runAsGroup: 10001,
  seccompProfile: { type: "RuntimeDefault" },
};
export const restrictedContainerSecurity: k8s.SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

/**
 * One deployment of a platform service: the services image running the service (restricted
 * security context, resources, probes, NATS credentials from a Secret, metrics announced to
 * Prometheus), its Service, and a PodDisruptionBudget when there is more than one replica.
 * The operator renders a dedicated instance with it; the hosting-lot app renders the shared ones.
 */
export class ServiceDeployment extends Construct {
  constructor(scope: Construct, id: string, props: ServiceDeploymentProps) {
    super(scope, id);
    const selector = { [labels.name]: props.service, [labels.instance]: props.tenancy.instance };
    const spread = props.spreadAcrossZones ?? (props.tenancy.kind === "shared" && !props.nodeSelector);
    const metadata: k8s.ObjectMeta = {
      name: props.name,
      namespace: props.namespace,
      labels: { ...selector, ...props.labels, [labels.partOf]: "mutualis" },
      ...(props.owner ? { ownerReferences: [props.owner] } : {}),
    };
    const http = "http";
    const internal = "internal";
    new k8s.KubeDeployment(this, "deployment", {
      metadata,
      spec: {
        replicas: props.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: { ...selector, ...(props.labels?.[labels.platformComponent] ? { [labels.platformComponent]: props.labels[labels.platformComponent] } : {}) },
            annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(internalPort), "prometheus.io/path": "/metrics", ...props.podAnnotations },
          },
          spec: {
            ...(props.serviceAccount ? { serviceAccountName: props.serviceAccount, automountServiceAccountToken: true } : { automountServiceAccountToken: false }),
            securityContext: restrictedPodSecurity,
            ...(props.nodeSelector ? { nodeSelector: { ...props.nodeSelector } } : {}),
            ...(spread
              ? { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } }] }
              : {}),
            containers: [
              {
                name: props.service,
                image: props.image,
                args: [props.command],
                // Health and metrics on a port of their own, which the Service does not expose.
                ports: [
                  { name: "http", containerPort: props.port },
                  { name: "internal", containerPort: internalPort },
                ],
                env: [
                  { name: "SERVICE_NAME", value: props.service },
                  { name: "HTTP_PORT", value: String(props.port) },
                  { name: "HTTP_INTERNAL_PORT", value: String(internalPort) },
                  // Listening on the pod's own address is right in a container and lets pods share
                  // a host on the local platform, where each pod has its own loopback address.
                  { name: "HTTP_HOST", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                  props.natsUrl ? { name: "NATS_URL", value: props.natsUrl } : { name: "NATS_URL", valueFrom: { secretKeyRef: { name: props.natsSecret, key: "NATS_URL" } } },
                  { name: "NATS_CREDS_FILE", value: `${natsMount}/user.creds` },
                  ...(props.env ?? []),
                ],
                resources: {
                  requests: { cpu: props.resources.cpu, memory: props.resources.memory },
                  limits: { cpu: props.resources.cpuLimit, memory: props.resources.memoryLimit },
                },
                readinessProbe: { httpGet: { path: "/readyz", port: internal }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: "/healthz", port: internal }, periodSeconds: 10, failureThreshold: 6 },
                securityContext: restrictedContainerSecurity,
                volumeMounts: [
                  { name: "nats", mountPath: natsMount, readOnly: true },
                  ...(props.volumes ?? []).map((volume) => ({ name: volume.name, mountPath: volume.path, ...(volume.secret ? { readOnly: true } : {}) })),
                ],
              },
            ],
            volumes: [
              { name: "nats", secret: { secretName: props.natsSecret, items: [{ key: "user.creds", path: "user.creds" }] } },
              ...(props.volumes ?? []).map((volume) =>
                volume.secret
                  ? { name: volume.name, secret: { secretName: volume.secret } }
                  : volume.claim
                    ? { name: volume.name, persistentVolumeClaim: { claimName: volume.claim } }
                    : { name: volume.name, emptyDir: {} },
              ),
            ],
          },
        },
      },
    });
    new k8s.KubeService(this, "service", {
      metadata,
      spec: { selector, ports: [{ name: "http", port: 80, targetPort: http }] },
    });
    if (props.replicas > 1) {
      new k8s.KubePodDisruptionBudget(this, "budget", {
        metadata,
        spec: { minAvailable: 1, selector: { matchLabels: selector } },
      });
    }
  }
}
