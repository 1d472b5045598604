import { randomBytes } from "node:crypto";
import { CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, layout, pkiPaths } from "@mutualis/local-platform";
import { eventually, statusOf, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const admin = platform.kubeConfig();
const namespace = `rbac-test-${randomBytes(3).toString("hex")}`;
const user = `agent-${randomBytes(3).toString("hex")}`;

describe("RBAC on the local API server", () => {
  const identity = issueCertificate(layout(platform.config).pki, user, { commonName: user, organizations: ["mutualis:agents"] });
  const asUser = platform.kubeConfigFor(identity, user).makeApiClient(CoreV1Api);

  beforeAll(async () => {
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await admin.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it("when an ordinary user has no Role, then the API server refuses it with 403", async () => {
    expect(await statusOf(asUser.listNamespacedPod({ namespace }))).toBe(403);
    expect(await statusOf(asUser.listNode())).toBe(403);
  });

  it("when a Role grants reading pods in one namespace, then the user reads there and is still refused elsewhere", async () => {
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: "pod-reader" },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "pod-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
      },
    });
    await eventually("the RoleBinding to take effect", async () =>
      (await statusOf(asUser.listNamespacedPod({ namespace }))) === 200 ? true : undefined,
    );
    expect(await statusOf(asUser.listNamespacedPod({ namespace: "default" }))).toBe(403);
    expect(await statusOf(asUser.listNamespacedSecret({ namespace }))).toBe(403);
  });

  it("when the node agent asks for a Secret no pod of its node uses, then the Node authorizer refuses it; its own node it may read", async () => {
    const node = platform.config.zones.find((z) => z.runner === "agent")!.node;
    const agent = platform.kubeConfigFor(pkiPaths(layout(platform.config).pki).nodeAgent, `system:node:${node}`).makeApiClient(CoreV1Api);
    await admin.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace, body: { metadata: { name: "unrelated" }, stringData: { password: "x" } } });
    expect(await statusOf(agent.readNamespacedSecret({ name: "unrelated", namespace }))).toBe(403);
    expect(await statusOf(agent.listSecretForAllNamespaces())).toBe(403);
    expect(await statusOf(agent.readNode({ name: node }))).toBe(200);
  });
});
