import { describe, expect, it } from "vitest";
import type { ServiceInstance } from "@mutualis/api";
import { dedicatedReadiness, natsCredentialsAnnotation, renderDedicated, revisionOf } from "./dedicated.ts";

const instance: ServiceInstance = {
  metadata: { name: "actes", namespace: "coll-rennes", uid: "u-1", generation: 2 },
  spec: { service: "actes", tenancy: "dedicated", plan: "small", version: "1.2.0", replicas: 2 },
};

const rennes = { name: "rennes", siren: "213502388", displayName: "Ville de Rennes" };

describe("renderDedicated", () => {
  // Manifests are plain JSON: reading them as such keeps the assertions short.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const [deployment, service, budget] = renderDedicated(instance, instance.spec, "registry.example/mutualis/services", 2, rennes) as Record<string, any>[];

  it("when an instance is dedicated, then its Deployment runs the services image for the service with the plan's resources", () => {
    const container = deployment!.spec.template.spec.containers[0];
    expect(container.image).toBe("registry.example/mutualis/services:1.2.0");
    expect(container.args).toEqual(["actes"]);
    expect(container.resources).toEqual({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } });
    // Health and metrics on the internal port, which the Service does not expose.
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "internal" });
    expect(container.ports).toEqual([
      { name: "http", containerPort: 8080 },
      { name: "internal", containerPort: 9464 },
    ]);
    expect(service!.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http" }]);
    expect(deployment!.spec.template.metadata.annotations["prometheus.io/port"]).toBe("9464");
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(deployment!.spec.template.metadata.annotations["prometheus.io/scrape"]).toBe("true");
    expect(deployment!.metadata.ownerReferences[0]).toMatchObject({ kind: "ServiceInstance", name: "actes", controller: true });
  });

  it("when the collectivity's NATS credentials change, then the pod template changes (a rollout), carrying a digest of them, never them", () => {
    const creds = "-----BEGIN NATS USER JWT-----\neyJ0eXAi…\n------END NATS USER JWT------\n";
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const annotationsWith = (value: string) => (renderDedicated(instance, instance.spec, "registry.example/mutualis/services", 2, rennes, { credentialsRevision: revisionOf(value) })[0] as Record<string, any>).spec.template.metadata.annotations;
    expect(annotationsWith(creds)[natsCredentialsAnnotation]).toMatch(/^[0-9a-f]{16}$/);
    expect(annotationsWith(creds)[natsCredentialsAnnotation]).not.toBe(annotationsWith(creds + "rotated")[natsCredentialsAnnotation]);
    expect(JSON.stringify(annotationsWith(creds))).not.toContain("eyJ0eXAi");
    expect(deployment!.spec.template.metadata.annotations[natsCredentialsAnnotation]).toBeUndefined();
    const streams = (options: Parameters<typeof renderDedicated>[5]) =>
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      ((renderDedicated(instance, instance.spec, "registry.example/mutualis/services", 2, rennes, options)[0] as Record<string, any>).spec.template.spec.containers[0].env as { name: string; value?: string }[]).find((e) => e.name === "NATS_STREAM_REPLICAS")?.value;
    expect([streams({}), streams({ streamReplicas: 3 })]).toEqual(["1", "3"]);
  });

  it("when the pods read their credentials, then they come from the tenant's Secrets, never from the spec", () => {
    const env = deployment!.spec.template.spec.containers[0].env as { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[];
    expect(env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => `${e.name}<-${e.valueFrom!.secretKeyRef!.name}`)).toEqual([
      "NATS_URL<-nats-credentials",
      "MONGODB_URI<-database",
      "MONGODB_DATABASE<-database",
      "MONGODB_CA<-database",
    ]);
  });

  it("when the pods start, then they serve only their collectivity, listening on their own address", () => {
    const env = deployment!.spec.template.spec.containers[0].env as { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    expect(env.find((e) => e.name === "TENANT")?.value).toBe("rennes");
    expect(env.find((e) => e.name === "TENANT_SIREN")?.value).toBe("213502388");
    expect(env.find((e) => e.name === "HTTP_HOST")?.valueFrom?.fieldRef?.fieldPath).toBe("status.podIP");
    expect(env.find((e) => e.name === "TENANT_AUTHORITY")).toBeUndefined();
  });

  it("when the Collectivity declares its @ctes identification, then the pods are told it", () => {
    const authority = { departement: "035", arrondissement: 3, nature: "31", siret: "21350238800019" };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const rendered = renderDedicated(instance, instance.spec, "img", 1, { ...rennes, authority })[0] as Record<string, any>;
    const env = rendered.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    expect(JSON.parse(env.find((e) => e.name === "TENANT_AUTHORITY")!.value!)).toEqual(authority);
  });

  it("when there are two replicas, then a Service and a PodDisruptionBudget come with the Deployment", () => {
    expect(service!.kind).toBe("Service");
    expect(budget!.kind).toBe("PodDisruptionBudget");
    expect(renderDedicated(instance, instance.spec, "img", 1, rennes).map((o) => o.kind)).toEqual(["Deployment", "Service"]);
  });
});

describe("dedicatedReadiness", () => {
  it.each([
    ["all pods are ready", { observedGeneration: 2, readyReplicas: 2 }, [], "True", "Ready"],
    ["the rollout is under way", { observedGeneration: 2, readyReplicas: 1 }, [], "False", "Progressing"],
    ["the quota is exceeded", { conditions: [{ type: "ReplicaFailure", status: "True", message: 'pods "x" is forbidden: exceeded quota: tenant-quota' }] }, [], "False", "QuotaExceeded"],
    ["a container is over the namespace's limits", { conditions: [{ type: "ReplicaFailure", status: "True", message: 'pods "x" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi' }] }, [], "False", "QuotaExceeded"],
    ["the pods are invalid", { conditions: [{ type: "ReplicaFailure", status: "True", message: 'Pod "x" is invalid: spec.containers[0]' }] }, [], "False", "PodsRejected"],
    ["the image is missing", { readyReplicas: 0 }, [{ containerStatuses: [{ state: { waiting: { reason: "ImagePullBackOff" } } }] }], "False", "ImageMissing"],
    ["the pods crash", { readyReplicas: 0 }, [{ containerStatuses: [{ state: { waiting: { reason: "CrashLoopBackOff" } } }] }], "False", "CrashLooping"],
  ])("when %s, then Ready is %s", (_case, status, pods, expectedStatus, reason) => {
    expect(dedicatedReadiness(2, status, 2, pods)).toMatchObject({ status: expectedStatus, reason });
  });
});
