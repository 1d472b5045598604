import type { Server } from "node:net";
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { sharedServiceManifests } from "@mutualis/cdk8s";
import { localLotSettings, parseRoute, startIngress } from "@mutualis/local-platform";
import { KubeClient, type RunningOperator } from "@mutualis/operator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOperator } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const objects = KubernetesObjectApi.makeApiClient(kc);

describe("a shared service run from the hosting lot's manifests", () => {
  const manifests = sharedServiceManifests(localLotSettings(platform.config, platform.env), "observatory");
  const port = platform.config.ports.observatory;
  let operator: RunningOperator | undefined;
  let ingress: Server | undefined;

  beforeAll(async () => {
    // The operator writes the platform services' NATS credentials the pod mounts.
    operator = await startTestOperator();
  });

  afterAll(async () => {
    ingress?.close();
    for (const manifest of manifests) await objects.delete(manifest as KubernetesObject).catch(() => undefined);
    await operator?.stop();
  });

  it("when the local lot's observatory is applied, then the node agent runs its pod, restricted, and the local ingress reaches it on the platform's fixed port", { timeout: 180_000 }, async () => {
    for (const manifest of manifests) await objects.patch(manifest as KubernetesObject, undefined, undefined, "mutualis-local", true, PatchStrategy.ServerSideApply);
    const route = parseRoute(`${port}=mutualis-system/app.kubernetes.io/name=observatory,app.kubernetes.io/instance=shared:8080`);
    ingress = await startIngress(KubeClient.fromKubeConfig(kc), route);
    await eventually("the observatory to answer through the ingress", async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok ? true : undefined), 150_000);
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(page).toContain('lang="fr"');

    const [pod] = (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "mutualis-system", labelSelector: "app.kubernetes.io/name=observatory" })).items;
    expect(pod?.spec?.nodeName).toBe(platform.config.zones.find((z) => z.runner === "agent")!.node);
    expect(pod?.spec?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    // What it was told comes from the lot: the local platform's own Prometheus and NATS.
    const env = Object.fromEntries((pod?.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ OBSERVATORY_PROMETHEUS_URL: platform.env.PROMETHEUS_URL, NATS_URL: platform.env.NATS_URL, MONGODB_DATABASE: "observatory" });
  });

  it("when no pod of the Service is ready, then the ingress closes the connection rather than hang", async () => {
    const closed = await startIngress(KubeClient.fromKubeConfig(kc), parseRoute(`${port + 100}=mutualis-system/app.kubernetes.io/name=nothing-here:8080`));
    try {
      await expect(fetch(`http://127.0.0.1:${port + 100}/`)).rejects.toThrow();
    } finally {
      closed.close();
    }
  });
});
