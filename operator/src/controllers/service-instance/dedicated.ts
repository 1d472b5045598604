import { createHash } from "node:crypto";
import type { ServiceInstance, ServiceInstanceSpec } from "@mutualis/api";
import { render, ServiceDeployment, Tenancy, TenantDatabaseCredentials, TenantNatsCredentials, type Manifest } from "@mutualis/cdk8s";
import { catalogue, defaultServiceVersion } from "../../catalogue.ts";
import { labels, operatorName, reasons } from "../../constants.ts";

/** On a dedicated pod: which NATS credentials it started with (a digest), so new ones roll it out. */
export const natsCredentialsAnnotation = "mutualis.fr/nats-credentials-revision";

/** A short digest of a Secret's value: tells a change, reveals nothing of it. */
export function revisionOf(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 16);
}

export function workloadName(instance: ServiceInstance): string {
  return `svc-${instance.metadata!.name}`;
}

/**
 * The objects of a dedicated instance, in the collectivity's namespace, rendered through the
 * ServiceDeployment construct the hosting-lot app renders the shared deployments with: a
 * Deployment running the services image (restricted security context, plan's resources, probes,
 * the tenant's NATS creds and database), a Service, and a PodDisruptionBudget when there is more
 * than one replica. The namespace's node selector pins the pods to the collectivity's zone.
 */
export function renderDedicated(
  instance: ServiceInstance,
  spec: ServiceInstanceSpec,
  image: string,
  replicas: number,
  tenant: { name: string; siren: string; displayName: string; authority?: Record<string, unknown> },
  options: {
    /** A revision of the tenant's NATS credentials (never the credentials): new ones roll the pods out. */
    readonly credentialsRevision?: string;
    /** Copies of the streams the deployment makes (its flows). */
    readonly streamReplicas?: number;
    /** The platform's issuer (and its CA, a public certificate) whose tokens the service verifies. */
    readonly identity?: { readonly issuer: string; readonly ca?: string };
  } = {},
): Manifest[] {
  const { credentialsRevision, streamReplicas = 1, identity } = options;
  const entry = catalogue[spec.service];
  const version = spec.version ?? defaultServiceVersion;
  const secret = (name: string, key: string) => ({ valueFrom: { secretKeyRef: { name, key } } });
  return render(
    (scope) =>
      new ServiceDeployment(scope, "dedicated", {
        name: workloadName(instance),
        namespace: instance.metadata!.namespace!,
        service: spec.service,
        command: entry.command,
        tenancy: Tenancy.dedicated(instance.metadata!.name!),
        image: `${image}:${version}`,
        port: entry.port,
        replicas,
        resources: entry.plans[spec.plan ?? "standard"],
        natsSecret: TenantNatsCredentials.secretName,
        env: [
          // Dedicated to this collectivity: it serves only tenant.<name>.<service>.…
          { name: "TENANT", value: tenant.name },
          { name: "TENANT_SIREN", value: tenant.siren },
          { name: "TENANT_DISPLAY_NAME", value: tenant.displayName },
          // Its authority as the State knows it (département, arrondissement, @ctes nature, SIRET).
          ...(tenant.authority ? [{ name: "TENANT_AUTHORITY", value: JSON.stringify(tenant.authority) }] : []),
          // The collectivity's own settings (limits…), which the service checks at start.
          { name: "TENANT_SETTINGS", value: JSON.stringify(spec.settings ?? {}) },
          // Its acknowledged acts go to the platform's publication service, as the shared one's do.
          ...(spec.service === "actes" ? [{ name: "ACTES_PUBLISH", value: "true" }] : []),
          { name: "SERVICE_VERSION", value: version },
          { name: "NATS_STREAM_REPLICAS", value: String(streamReplicas) },
          { name: "MONGODB_URI", ...secret(TenantDatabaseCredentials.secretName, "MONGODB_URI") },
          { name: "MONGODB_DATABASE", ...secret(TenantDatabaseCredentials.secretName, "MONGODB_DATABASE") },
          // The CA of the database's TLS certificate, where the platform's is a private one.
          { name: "MONGODB_CA", valueFrom: { secretKeyRef: { name: TenantDatabaseCredentials.secretName, key: "MONGODB_CA", optional: true } } },
          // Its callers' tokens, which it verifies itself.
          ...(identity ? [{ name: "IDENTITY_ISSUER", value: identity.issuer }, ...(identity.ca ? [{ name: "IDENTITY_CA", value: identity.ca }] : [])] : []),
        ],
        labels: { [labels.managedBy]: operatorName, [labels.collectivity]: tenant.name },
        ...(credentialsRevision ? { podAnnotations: { [natsCredentialsAnnotation]: credentialsRevision } } : {}),
        owner: { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", name: instance.metadata!.name!, uid: instance.metadata!.uid!, controller: true, blockOwnerDeletion: true },
      }),
  );
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
    return { status: "False", reason: reasons.quotaExceeded, message: `the collectivity's quota does not leave room for the pods: ${failure.message}`, readyReplicas: ready };
  }
  if (failure) {
    return { status: "False", reason: reasons.podsRejected, message: `the pods are refused: ${failure.message}`, readyReplicas: ready };
  }
  const waiting = pods.flatMap((p) => p.containerStatuses ?? []).map((c) => c.state?.waiting).filter((w) => w?.reason);
  if (waiting.some((w) => /ImagePullBackOff|ErrImagePull|InvalidImageName/.test(w!.reason!))) {
    return { status: "False", reason: reasons.imageMissing, message: "the service's image cannot be pulled: check spec.version", readyReplicas: ready };
  }
  if (waiting.some((w) => w!.reason === "CrashLoopBackOff")) {
    return { status: "False", reason: reasons.crashLooping, message: "the service's pods keep crashing: see their logs", readyReplicas: ready };
  }
  const current = status?.observedGeneration !== undefined && generation !== undefined && status.observedGeneration >= generation;
  if (wanted === 0) return { status: "False", reason: reasons.scaledToZero, message: "no replica runs (the collectivity is suspended)", readyReplicas: ready };
  if (current && ready >= wanted) return { status: "True", reason: reasons.ready, message: `${ready}/${wanted} pods ready`, readyReplicas: ready };
  return { status: "False", reason: reasons.progressing, message: `${ready}/${wanted} pods ready, rollout in progress`, readyReplicas: ready };
}
