import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubernetesObject } from "@kubernetes/client-node";
import { layout, localChartValues } from "@mutualis/local-platform";
import { administratorRules, operatorClusterRules, operatorProcessEnv, platformObjects, operatorNamespaceRules, operatorUnexercisedPermissions, type RunningOperator } from "@mutualis/operator";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectivityManifest, deleteCollectivity, readCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { platformServicesCreds, startTestSesf } from "../support/services.ts";
import { reserveTestIdentity, startTestIdentity, type TestIdentity } from "../support/identity.ts";
import type { RunningService } from "@mutualis/service-kit";

const run = promisify(execFile);
const platform = testPlatform();
const helm = layout(platform.config).bin("helm");
const kubectl = layout(platform.config).bin("kubectl");
const chart = join(import.meta.dirname, "../../charts/mutualis");
const kubeVersion = "1.36.3";

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
  resourceNames?: string[];
}
type Manifest = KubernetesObject & { rules?: Rule[]; roleRef?: { name: string }; spec?: Record<string, unknown>; data?: Record<string, string> };

async function template(namespace: string, ...sets: string[]): Promise<Manifest[]> {
  const { stdout } = await run(helm, ["template", "mutualis", chart, "--namespace", namespace, "--kube-version", kubeVersion, ...sets.flatMap((s) => ["--set", s])]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
}

async function templateError(...sets: string[]): Promise<string> {
  try {
    await run(helm, ["template", "mutualis", chart, "--kube-version", kubeVersion, ...sets.flatMap((s) => ["--set", s])]);
    return "";
  } catch (error) {
    return (error as { stderr: string }).stderr;
  }
}

const byKind = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind);
const createInTenant = (plural: string, kind: string, name: string, spec: object) =>
  platform
    .kubeConfig()
    .makeApiClient(CustomObjectsApi)
    .createNamespacedCustomObject({ group: "mutualis.fr", version: "v1alpha1", plural, namespace: "coll-t-chart", body: { apiVersion: "mutualis.fr/v1alpha1", kind, metadata: { name }, spec } });
const permission = (verb: string, group: string, resource: string) => `${verb} ${group || "core"}/${resource}`;
const expand = (rules: Rule[]) => new Set(rules.flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.map((v) => permission(v, g, res))))));

describe("the Helm chart installs the operator", () => {
  it("when linted, then helm finds nothing wrong", async () => {
    const { stdout } = await run(helm, ["lint", "--strict", chart, "--kube-version", kubeVersion]);
    expect(stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
  });

  it("when rendered, then two replicas with leader election run the image's operator, restricted, with secrets as files", async () => {
    const manifests = await template("mutualis-system");
    expect(manifests.map((m) => m.kind).sort()).toEqual(
      ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "ConfigMap", "ConfigMap", "Deployment", "Role", "RoleBinding", "Service", "ServiceAccount", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"].sort(),
    );
    const deployment = byKind(manifests, "Deployment")[0]! as Manifest & { spec: { replicas: number; template: { spec: { containers: { args: string[]; env: { name: string; value?: string }[]; securityContext: object }[]; securityContext: object } } } };
    expect(deployment.spec.replicas).toBe(2);
    const container = deployment.spec.template.spec.containers[0]!;
    expect(container.args).toEqual(["operator"]);
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ OPERATOR_LEADER_ELECTION: "true", MUTUALIS_PLATFORM_OBJECTS: "false", MUTUALIS_ZONES: "fr-bzh-1a,fr-bzh-1b", MUTUALIS_PLATFORM_NAMESPACE: "mutualis-system" });
    expect(JSON.stringify(container.env)).not.toMatch(/BEGIN|SUAA|-----/);
    // The process runs with the heap and malloc settings the local platform and the benchmarks measure.
    expect(env).toMatchObject(operatorProcessEnv);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(byKind(manifests, "ConfigMap").find((m) => m.metadata?.name === "hosting-zones")!.data).toEqual({ "fr-bzh-1a": "available", "fr-bzh-1b": "available" });
    expect(env.IDENTITY_ISSUER).toBeUndefined();
    // With the platform's issuer: the operator's client secret comes as a file from its Secret, never in its environment.
    const withIdentity = byKind(await template("mutualis-system", "identity.issuer=https://services.mutualis.bzh/identite"), "Deployment")[0]! as typeof deployment & { spec: { template: { spec: { volumes: { name: string; secret?: { secretName: string } }[] } } } };
    const identityEnv = Object.fromEntries(withIdentity.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
    expect(identityEnv).toMatchObject({ IDENTITY_ISSUER: "https://services.mutualis.bzh/identite", OPERATOR_CLIENT_SECRET_FILE: "/var/run/mutualis/identity/client-secret" });
    expect(identityEnv.IDENTITY_CA_FILE).toBeUndefined();
    expect(withIdentity.spec.template.spec.volumes).toContainEqual(expect.objectContaining({ name: "identity", secret: expect.objectContaining({ secretName: "mutualis-identity" }) }));
    expect(await templateError("identity.issuer=http://plain.example/")).toContain("/identity/issuer");
    // The CRDs travel in crds/, installed by Helm before the templates.
    const crds = readFileSync(join(chart, "crds/collectivities.mutualis.fr.yaml"), "utf8");
    expect(crds).toBe(readFileSync(join(import.meta.dirname, "../../crds/collectivities.mutualis.fr.yaml"), "utf8").replace("api/src/generate from api/src/schema", "operator/src/generate/chart.ts"));
  });

  it("when values are wrong, then the schema refuses them and names the value", async () => {
    expect(await templateError("replicaCount=deux")).toContain("/replicaCount");
    expect(await templateError("zones[0]=Zone_A")).toContain("/zones/0");
    expect(await templateError("nats.url=http://nats:4222")).toContain("/nats/url");
    expect(await templateError("colour=bleu")).toMatch(/additional properties 'colour' not allowed|colour/);
  });

  it("when its RBAC is read, then it grants exactly the operator's declared rules: no wildcard, no cluster-admin, no access to admission policies", async () => {
    const manifests = await template("mutualis-system");
    const clusterRole = byKind(manifests, "ClusterRole")[0]!;
    const role = byKind(manifests, "Role")[0]!;
    expect(clusterRole.rules).toEqual(JSON.parse(JSON.stringify(operatorClusterRules)));
    expect(role.rules).toEqual(JSON.parse(JSON.stringify(operatorNamespaceRules)));
    const everything = [...clusterRole.rules!, ...role.rules!];
    for (const rule of everything) {
      for (const value of [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs]) expect(value).not.toContain("*");
      expect(rule.verbs).not.toContain("escalate");
      expect(rule.verbs).not.toContain("bind");
      expect(rule.verbs).not.toContain("impersonate");
      expect(rule.apiGroups).not.toContain("admissionregistration.k8s.io");
      expect(rule.apiGroups).not.toContain("apiextensions.k8s.io");
    }
    for (const binding of [...byKind(manifests, "ClusterRoleBinding"), ...byKind(manifests, "RoleBinding")]) expect(binding.roleRef!.name).toBe("mutualis-operator");
  });

  it("when rendered with monitoring, then the ServiceMonitor scrapes the metrics port and every alert is valid PromQL that Prometheus evaluates", async () => {
    const manifests = await template("mutualis-system", "serviceMonitor.enabled=true", "prometheusRule.enabled=true");
    expect(byKind(manifests, "ServiceMonitor")[0]!.spec).toMatchObject({ endpoints: [{ port: "metrics", path: "/metrics" }] });
    const rules = (byKind(manifests, "PrometheusRule")[0]!.spec as { groups: { rules: { alert: string; expr: string }[] }[] }).groups[0]!.rules;
    expect(rules.map((r) => r.alert)).toEqual(["MutualisReconcileErrors", "MutualisTenantNotReady", "MutualisWorkQueueBacklog", "MutualisLeaderMissing"]);
    for (const rule of rules) {
      const answer = await fetch(`${platform.env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(rule.expr)}`);
      expect({ alert: rule.alert, status: answer.status }).toEqual({ alert: rule.alert, status: 200 });
    }
  });

  it("when its Grafana dashboards are read, then each is a ConfigMap for Grafana's sidecar and every panel's query is PromQL that Prometheus evaluates", async () => {
    const manifests = await template("mutualis-system");
    const boards = byKind(manifests, "ConfigMap").filter((m) => m.metadata?.labels?.grafana_dashboard === "1");
    expect(boards.map((b) => b.metadata!.name).sort()).toEqual(["mutualis-dashboard-platform", "mutualis-dashboard-tenant"]);
    const uids = new Set<string>();
    for (const board of boards) {
      const [json] = Object.values(board.data!);
      const dashboard = JSON.parse(json!) as { uid: string; title: string; panels: { title: string; targets?: { expr: string }[] }[] };
      uids.add(dashboard.uid);
      expect(dashboard.title).toMatch(/^Mutualis — /);
      const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
      expect(targets.length).toBeGreaterThan(2);
      for (const { panel, expr } of targets) {
        const concrete = expr.replaceAll("$__rate_interval", "5m").replaceAll("$collectivity", "t-chart");
        const answer = await fetch(`${platform.env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(concrete)}`);
        expect({ panel, status: answer.status }).toEqual({ panel, status: 200 });
      }
    }
    expect(uids.size).toBe(2);
    expect((await template("mutualis-system", "dashboards.enabled=false")).filter((m) => m.metadata?.labels?.grafana_dashboard)).toEqual([]);
  });

  describe("on the local platform's API server", () => {
    const kc = platform.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const namespace = "mutualis-system";
    let operator: RunningOperator | undefined;
    let sesf: RunningService | undefined;
    let identity: TestIdentity | undefined;

    beforeAll(async () => {
      await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }).catch(() => undefined);
    });

    afterAll(async () => {
      await deleteCollectivity(kc, "t-chart").catch(() => undefined);
      await waitForGone(kc, "t-chart").catch(() => undefined);
      await operator?.stop();
      await sesf?.stop();
      await identity?.stop();
    });

    it("when the rendered manifests are applied as a dry run, then the API server accepts every one", async () => {
      const manifests = await template(namespace);
      const file = join(mkdtempSync(join(tmpdir(), "chart-")), "rendered.json");
      writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: manifests }));
      const { stdout } = await run(kubectl, ["--kubeconfig", platform.env.KUBECONFIG, "apply", "--server-side", "--force-conflicts", "--field-manager=helm-dry-run", "--dry-run=server", "-f", file]);
      expect(stdout.trim().split("\n")).toHaveLength(manifests.length);
    });

    it("when the operator runs as the chart's ServiceAccount with only the chart's RBAC, then a collectivity is provisioned, given services and a share, suspended and deleted; the API server's audit shows it used every permission the chart grants", { timeout: 480_000 }, async () => {
      const manifests = (await template(namespace)).filter((m) => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(m.kind!));
      for (const manifest of manifests) await objects.patch(manifest, undefined, undefined, "mutualis-chart-test", true, PatchStrategy.ServerSideApply);
      const { status } = await core.createNamespacedServiceAccountToken({ name: "mutualis", namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
      const cluster = kc.getCurrentCluster()!;
      const kubeconfig = join(mkdtempSync(join(tmpdir(), "chart-sa-")), "kubeconfig");
      writeFileSync(
        kubeconfig,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "local", cluster: { server: cluster.server, "certificate-authority-data": cluster.caData ?? readFileSync(cluster.caFile!).toString("base64") } }],
          users: [{ name: "operator", user: { token: status!.token } }],
          contexts: [{ name: "local", context: { cluster: "local", user: "operator" } }],
          "current-context": "local",
        }),
        { mode: 0o600 },
      );
      // The operator makes the SecureShare's share in sesf with its own token from this identity.
      const reserved = await reserveTestIdentity();
      operator = await startTestOperator({ kubeconfig, platformObjects: false, env: reserved.operatorEnv });

      await objects.create(collectivityManifest({ name: "t-chart", siren: sirenFrom("21350099"), deletionPolicy: "Delete" }));
      await waitForReady(kc, "t-chart");
      expect((await core.listNamespacedSecret({ namespace: "coll-t-chart" })).items.length).toBeGreaterThan(0);
      await createInTenant("serviceinstances", "ServiceInstance", "actes", { service: "actes" });
      await eventually("the ServiceInstance to have a status written by the operator", async () => {
        const si = (await custom.getNamespacedCustomObject({ group: "mutualis.fr", version: "v1alpha1", plural: "serviceinstances", namespace: "coll-t-chart", name: "actes" })) as { status?: { conditions?: unknown[] } };
        return si.status?.conditions?.length ? si : undefined;
      });
      // The exchange, so that the share is made and, at deletion, revoked.
      const creds = await platformServicesCreds();
      identity = await startTestIdentity(creds, "charttest_identity", [], {}, reserved);
      sesf = (await startTestSesf(creds, "charttest_sesf", identity.verifierSettings)).service;
      await createInTenant("serviceinstances", "ServiceInstance", "sesf", { service: "sesf" });
      await createInTenant("secureshares", "SecureShare", "pv", { recipients: [{ email: "elu@mairie.example" }] });
      await eventually("the SecureShare to be Ready", async () => {
        const share = (await custom.getNamespacedCustomObject({ group: "mutualis.fr", version: "v1alpha1", plural: "secureshares", namespace: "coll-t-chart", name: "pv" })) as { status?: { state?: string } };
        return share.status?.state === "Ready" ? share : undefined;
      });
      await custom.patchClusterCustomObject(
        { group: "mutualis.fr", version: "v1alpha1", plural: "collectivities", name: "t-chart", body: { spec: { suspended: true } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      await eventually("the collectivity to be suspended", async () => {
        const c = (await custom.getClusterCustomObject({ group: "mutualis.fr", version: "v1alpha1", plural: "collectivities", name: "t-chart" })) as { status?: { conditions?: { type: string; reason: string }[] } };
        return c.status?.conditions?.find((x) => x.type === "Ready" && x.reason === "Suspended");
      });
      // A dedicated instance while suspended: its Deployment and Service, at zero replicas (no process).
      await createInTenant("serviceinstances", "ServiceInstance", "parapheur", { service: "parapheur", tenancy: "dedicated" });
      await eventually("the dedicated instance's Deployment", () => kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: "svc-parapheur", namespace: "coll-t-chart" }));
      // Nothing the operator did was refused: its metrics count no API request answered 403.
      // (Checked before the deletion: an event posted into a terminating namespace is a 403 too.)
      const metrics = await (await fetch(`http://127.0.0.1:${operator.manager.port}/metrics`)).text();
      expect(metrics.split("\n").filter((l) => l.startsWith("rest_client_requests_total") && l.includes('code="403"'))).toEqual([]);
      const deleting = Date.now();
      await deleteCollectivity(kc, "t-chart");
      await waitForGone(kc, "t-chart", 120_000);
      console.log(`t-chart deleted in ${((Date.now() - deleting) / 1000).toFixed(0)} s`);
      await operator.stop();
      operator = undefined;

      // Every permission it used, from the API server's audit log, against every one granted.
      const used = new Set<string>();
      for (const line of readFileSync(join(layout(platform.config).kube, "audit.log"), "utf8").split("\n")) {
        if (!line) continue;
        const event = JSON.parse(line) as { user: { username: string }; verb: string; objectRef?: { apiGroup?: string; resource?: string; subresource?: string } };
        if (event.user.username !== "system:serviceaccount:mutualis-system:mutualis" || !event.objectRef?.resource) continue;
        used.add(permission(event.verb, event.objectRef.apiGroup ?? "", event.objectRef.resource + (event.objectRef.subresource ? `/${event.objectRef.subresource}` : "")));
      }
      const granted = expand([...operatorClusterRules, ...operatorNamespaceRules]);
      const delegated = expand(administratorRules);
      const unexercised = new Set(Object.keys(operatorUnexercisedPermissions));
      expect([...used].filter((p) => !granted.has(p))).toEqual([]);
      expect([...granted].filter((p) => !used.has(p) && !delegated.has(p) && !unexercised.has(p)).sort()).toEqual([]);
    });

    it("when the chart is installed with Helm, then the operator comes up as its pods, one of them leads, and it provisions a collectivity", { timeout: 360_000 }, async () => {
      const release = "mutualis-helm";
      const kubeconfigArg = ["--kubeconfig", platform.env.KUBECONFIG];
      await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: release } }).catch(() => undefined);
      // What the chart expects beside it: the NATS operator's credentials and the database's address.
      await core.createNamespacedSecret({
        namespace: release,
        body: { metadata: { name: "mutualis-nats-operator" }, stringData: { "system.creds": readFileSync(platform.env.NATS_SYSTEM_CREDS, "utf8"), "operator.nk": readFileSync(platform.env.NATS_OPERATOR_SEED_FILE, "utf8") } },
      });
      await core.createNamespacedSecret({ namespace: release, body: { metadata: { name: "mutualis-database" }, stringData: { MONGODB_URI: platform.env.MONGODB_URI, DATABASE_ADMIN_URL: platform.env.DATABASE_ADMIN_URL } } });
      // And the operator's client of the platform's identity service, with the local CA.
      await core.createNamespacedSecret({
        namespace: release,
        body: { metadata: { name: "mutualis-identity" }, stringData: { "client-secret": readFileSync(platform.env.OPERATOR_CLIENT_SECRET_FILE, "utf8"), "ca.crt": readFileSync(platform.env.IDENTITY_CA_FILE, "utf8") } },
      });
      try {
        // Both replicas on the zone whose node really runs pods (KWOK's only pretends); the chart
        // takes over the cluster-wide objects earlier tests' operators made.
        await run(helm, [
          "install", "mutualis", chart, "--namespace", release, ...kubeconfigArg, "--take-ownership", "--wait", "--timeout", "240s",
          ...localChartValues(platform.config, platform.env),
        ]);
        const pods = (await core.listNamespacedPod({ namespace: release, labelSelector: "app.kubernetes.io/name=mutualis-operator" })).items;
        expect(pods.map((p) => p.status?.phase)).toEqual(["Running", "Running"]);
        expect(pods.every((p) => p.status?.containerStatuses?.[0]?.ready)).toBe(true);
        // One of the pods holds the Lease: the operator in a pod reached the API server with its ServiceAccount.
        const names = pods.map((p) => p.metadata!.name!);
        // The pods' logs, from the node agent's directory, when a replica does not come up.
        const podLogs = () =>
          readdirSync(join(layout(platform.config).nodeAgent, "pods"))
            .filter((dir) => dir.startsWith(`${release}_`))
            .map((dir) => `${dir}:\n${readFileSync(join(layout(platform.config).nodeAgent, "pods", dir, "operator.log"), "utf8").split("\n").slice(-6).map((line) => line.slice(0, 400)).join("\n")}`)
            .join("\n");
        const leader = await eventually("a replica to lead", async () => {
          const leases = (await kc.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: release })).items;
          return leases.map((l) => l.spec?.holderIdentity ?? "").find((holder) => names.some((name) => holder.startsWith(name)));
        }).catch((error: Error) => {
          throw new Error(`${error.message}\n${podLogs()}`);
        });
        expect(leader, podLogs()).toBeTruthy();

        await objects.create(collectivityManifest({ name: "t-helm", siren: sirenFrom("21350098"), deletionPolicy: "Delete" }));
        await waitForReady(kc, "t-helm", "True", undefined, 120_000).catch(async (error: Error) => {
          const status = (await readCollectivity(kc, "t-helm")).status;
          throw new Error(`${error.message}: ${JSON.stringify(status?.conditions)}\n${podLogs()}`);
        });
        await deleteCollectivity(kc, "t-helm");
        await waitForGone(kc, "t-helm", 120_000);
      } finally {
        await deleteCollectivity(kc, "t-helm").catch(() => undefined);
        await waitForGone(kc, "t-helm", 120_000).catch(() => undefined);
        await run(helm, ["uninstall", "mutualis", "--namespace", release, ...kubeconfigArg, "--wait", "--timeout", "120s"]);
        await core.deleteNamespace({ name: release }).catch(() => undefined);
        // The release took the zone policy over and its uninstall removed it: the platform's
        // operator puts it back, and the API server serves it again before the next test runs.
        for (const object of platformObjects("mutualis-system", platform.env.MUTUALIS_ZONES.split(","))) {
          await objects.patch(object, undefined, undefined, "mutualis-operator", true, PatchStrategy.ServerSideApply);
        }
        await eventually("the zone policy to admit collectivities again", () =>
          objects.create(collectivityManifest({ name: "t-helm-probe", siren: sirenFrom("21350097") }), undefined, "All").then(() => true),
        );
      }
    });
  });
});
