import { CoreV1Api, KubernetesObjectApi, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { departementOf, sirenWithCheckDigit } from "@mutualis/api";
import { createLogger, loadOperatorConfig, startOperator, type RunningOperator } from "@mutualis/operator";
import { eventually, testPlatform } from "./platform.ts";

const platform = testPlatform();

export interface TestOperatorOptions {
  readonly leaderElection?: boolean;
  readonly resyncSeconds?: number;
  readonly workers?: number;
  /** Another identity than the administrator's (the chart's ServiceAccount, say). */
  readonly kubeconfig?: string;
  /** Whether the operator installs the platform's cluster-wide objects (the chart does instead). */
  readonly platformObjects?: boolean;
  /** More settings: the platform's identity (ReservedIdentity.operatorEnv). */
  readonly env?: Record<string, string>;
}

/** An operator running in this process against the test platform, with metrics on a free port. */
export async function startTestOperator(options: TestOperatorOptions = {}): Promise<RunningOperator> {
  const config = loadOperatorConfig({
    ...platform.env,
    OPERATOR_HTTP_PORT: "0",
    OPERATOR_HTTP_HOST: "127.0.0.1",
    OPERATOR_LEADER_ELECTION: String(options.leaderElection ?? true),
    OPERATOR_RESYNC_SECONDS: String(options.resyncSeconds ?? 600),
    OPERATOR_WORKERS: String(options.workers ?? 4),
    MUTUALIS_NATS_PORT: String(platform.config.ports.nats),
    MUTUALIS_DATABASE_PORT: String(platform.config.ports.ferretdb),
    ...(options.kubeconfig ? { KUBECONFIG: options.kubeconfig } : {}),
    MUTUALIS_PLATFORM_OBJECTS: String(options.platformObjects ?? true),
    ...options.env,
  });
  const operator = await startOperator(config, createLogger("test-operator", process.env.TEST_LOG_LEVEL ?? "warn"));
  // A replica that loses its lease exits in production; in tests, the test decides.
  operator.manager.onLostLeadership = () => {};
  return operator;
}

export async function metricsText(operator: RunningOperator): Promise<string> {
  return (await fetch(`http://127.0.0.1:${operator.manager.port}/metrics`)).text();
}

/** The sum of one metric's samples whose labels match all of `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    const labelText = line.slice(name.length).split(" ")[0] ?? "";
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) total += Number(line.split(" ").at(-1));
  }
  return total;
}

export interface CollectivityFixture {
  readonly name: string;
  readonly siren: string;
  readonly category?: string;
  readonly zone?: string;
  readonly population?: number;
  readonly [field: string]: unknown;
}

/**
 * A Collectivity as the tests declare it; unless the test says otherwise, it declares its @ctes
 * identification (the département read from its SIREN, arrondissement 1, a commune).
 */
export function collectivityManifest({ name, siren, category, zone, population, ...rest }: CollectivityFixture): KubernetesObject {
  const departement = departementOf(siren);
  const actes = { departement: departement === "000" ? "035" : departement, arrondissement: 1, nature: "31" };
  return {
    apiVersion: "mutualis.fr/v1alpha1",
    kind: "Collectivity",
    metadata: { name },
    spec: { displayName: `Test ${name}`, siren, category: category ?? "commune", zone: zone ?? "fr-bzh-1a", population: population ?? 5000, actes, ...rest },
  } as KubernetesObject;
}

interface WithConditions extends KubernetesObject {
  status?: { observedGeneration?: number; conditions?: { type: string; status: string; reason: string; message: string }[]; [k: string]: unknown };
}

export async function readCollectivity(kc: KubeConfig, name: string): Promise<WithConditions> {
  return KubernetesObjectApi.makeApiClient(kc).read<WithConditions>({ apiVersion: "mutualis.fr/v1alpha1", kind: "Collectivity", metadata: { name } });
}

/** Waits until the Collectivity's Ready condition, for its current generation, has `status` (and `reason`). */
export async function waitForReady(kc: KubeConfig, name: string, status = "True", reason?: string, timeoutMs = 60_000): Promise<WithConditions> {
  return eventually(
    `Collectivity ${name} Ready=${status}${reason ? ` (${reason})` : ""}`,
    async () => {
      const object = await readCollectivity(kc, name);
      const ready = object.status?.conditions?.find((c) => c.type === "Ready");
      const current = object.status?.observedGeneration === object.metadata?.generation;
      return current && ready?.status === status && (!reason || ready.reason === reason) ? object : undefined;
    },
    timeoutMs,
  );
}

export async function deleteCollectivity(kc: KubeConfig, name: string): Promise<void> {
  await KubernetesObjectApi.makeApiClient(kc)
    .delete({ apiVersion: "mutualis.fr/v1alpha1", kind: "Collectivity", metadata: { name } })
    .catch(() => undefined);
}

/** Waits until the Collectivity and its namespace are gone (the operator must run meanwhile: finalizers). */
export async function waitForGone(kc: KubeConfig, name: string, timeoutMs = 90_000): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await eventually(
    `Collectivity ${name} and its namespace to be gone`,
    async () => {
      const collectivity = await readCollectivity(kc, name).then(() => true, () => false);
      const namespace = await core.readNamespace({ name: `coll-${name}` }).then(() => true, () => false);
      return collectivity || namespace ? undefined : true;
    },
    timeoutMs,
  );
}

/** A SIREN with a valid check digit, from any eight digits. */
export const sirenFrom = sirenWithCheckDigit;
