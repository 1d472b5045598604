import type { V1OwnerReference } from "@kubernetes/client-node";
import type { ServiceInstance, ServiceInstanceSpec } from "@mutualis/api";
import { catalogue, defaultServiceVersion } from "../../catalogue.ts";
import { labels, operatorName } from "../../constants.ts";

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences: V1OwnerReference[] }; [field: string]: unknown };

export function workloadName(instance: ServiceInstance): string {
  return `svc-${instance.metadata!.name}`;
}

function selector(instance: ServiceInstance): Record<string, string> {
  return { "app.kubernetes.io/name": instance.spec.service, "app.kubernetes.io/instance": instance.metadata!.name! };
}

/**
 * The objects of a dedicated instance, in the collectivity's namespace: a Deployment running the
 * services image (restricted security context, plan's resources, probes, the tenant's NATS
 * creds and database), a Service, and a PodDisruptionBudget when there is more than one replica.
 * The namespace's node selector pins the pods to the collectivity's zone.
 */
export function renderDedicated(
  instance: ServiceInstance,
  spec: ServiceInstanceSpec,
  image: string,
  replicas: number,
  tenant: { name: string; siren: string; displayName: string },
): Manifest[] {
  const entry = catalogue[spec.service];
  const resources = entry.plans[spec.plan ?? "standard"];
  const namespace = instance.metadata!.namespace!;
  const name = workloadName(instance);
  const metadata = {
    name,
    namespace,
    labels: { ...selector(instance), [labels.managedBy]: operatorName, [labels.partOf]: "mutualis", [labels.collectivity]: namespace.replace(/^coll-/, "") },
    ownerReferences: [
      { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", name: instance.metadata!.name!, uid: instance.metadata!.uid!, controller: true, blockOwnerDeletion: true },
    ],
  };
  const deployment: Manifest = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata,
    spec: {
      replicas,
      selector: { matchLabels: selector(instance) },
      template: {
        metadata: {
          labels: selector(instance),
          annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(entry.port), "prometheus.io/path": "/metrics" },
        },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: spec.service,
              image: `${image}:${spec.version ?? defaultServiceVersion}`,
              args: [entry.command],
              ports: [{ name: "http", containerPort: entry.port }],
              env: [
                { name: "SERVICE_NAME", value: spec.service },
                // Dedicated to this collectivity: it serves only tenant.<name>.<service>.…
                { name: "TENANT", value: tenant.name },
                { name: "TENANT_SIREN", value: tenant.siren },
                { name: "TENANT_DISPLAY_NAME", value: tenant.displayName },
                // The collectivity's own settings (limits…), which the service checks at start.
                { name: "TENANT_SETTINGS", value: JSON.stringify(spec.settings ?? {}) },
                { name: "SERVICE_VERSION", value: spec.version ?? defaultServiceVersion },
                { name: "HTTP_PORT", value: String(entry.port) },
                // Listening on the pod's own address is right in a container and lets pods share
                // a host on the local platform, where each pod has its own loopback address.
                { name: "HTTP_HOST", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                { name: "NATS_URL", valueFrom: { secretKeyRef: { name: "nats-credentials", key: "NATS_URL" } } },
                { name: "NATS_CREDS_FILE", value: "/var/run/mutualis/nats/user.creds" },
                { name: "MONGODB_URI", valueFrom: { secretKeyRef: { name: "database", key: "MONGODB_URI" } } },
                { name: "MONGODB_DATABASE", valueFrom: { secretKeyRef: { name: "database", key: "MONGODB_DATABASE" } } },
              ],
              resources: { requests: { cpu: resources.cpu, memory: resources.memory }, limits: { cpu: resources.cpuLimit, memory: resources.memoryLimit } },
              readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, failureThreshold: 6 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
              volumeMounts: [{ name: "nats", mountPath: "/var/run/mutualis/nats", readOnly: true }],
            },
          ],
          volumes: [{ name: "nats", secret: { secretName: "nats-credentials", items: [{ key: "user.creds", path: "user.creds" }] } }],
        },
      },
    },
  };
  const service: Manifest = {
    apiVersion: "v1",
    kind: "Service",
    metadata,
    spec: { selector: selector(instance), ports: [{ name: "http", port: 80, targetPort: "http" }] },
  };
  const budget: Manifest = {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata,
    spec: { minAvailable: 1, selector: { matchLabels: selector(instance) } },
  };
  return replicas > 1 ? [deployment, service, budget] : [deployment, service];
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

interface PodStatus {
  containerStatuses?: { restartCount?: number; state?: { waiting?: { reason?: string; message?: string } } }[];
}

/**
 * Ready from the Deployment's availability, with a reason a person understands: the image is
 * missing, the quota is exceeded, the pods crash-loop, or the rollout is still going.
 */
export function dedicatedReadiness(
  generation: number | undefined,
  status: DeploymentStatus | undefined,
  wanted: number,
  pods: readonly PodStatus[],
): { status: "True" | "False"; reason: string; message: string; readyReplicas: number } {
  const ready = status?.readyReplicas ?? 0;
  const failure = status?.conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  if (failure && /exceeded quota|maximum .* usage/i.test(failure.message ?? "")) {
    return { status: "False", reason: "QuotaExceeded", message: `the collectivity's quota does not leave room for the pods: ${failure.message}`, readyReplicas: ready };
  }
  if (failure) {
    return { status: "False", reason: "PodsRejected", message: `the pods are refused: ${failure.message}`, readyReplicas: ready };
  }
  const waiting = pods.flatMap((p) => p.containerStatuses ?? []).map((c) => c.state?.waiting).filter((w) => w?.reason);
  if (waiting.some((w) => /ImagePullBackOff|ErrImagePull|InvalidImageName/.test(w!.reason!))) {
    return { status: "False", reason: "ImageMissing", message: "the service's image cannot be pulled: check spec.version", readyReplicas: ready };
  }
  if (waiting.some((w) => w!.reason === "CrashLoopBackOff")) {
    return { status: "False", reason: "CrashLooping", message: "the service's pods keep crashing: see their logs", readyReplicas: ready };
  }
  const current = status?.observedGeneration !== undefined && generation !== undefined && status.observedGeneration >= generation;
  if (wanted === 0) return { status: "False", reason: "ScaledToZero", message: "no replica runs (the collectivity is suspended)", readyReplicas: ready };
  if (current && ready >= wanted) return { status: "True", reason: "Ready", message: `${ready}/${wanted} pods ready`, readyReplicas: ready };
  return { status: "False", reason: "Progressing", message: `${ready}/${wanted} pods ready, rollout in progress`, readyReplicas: ready };
}
