import type { Collectivity } from "@mutualis/api";
import { tenantNamespace } from "../../constants.ts";
import { childMetadata, type Manifest } from "./owner.ts";

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

export function renderAccess(collectivity: Collectivity): Manifest[] {
  const namespace = tenantNamespace(collectivity.metadata!.name!);
  const admins = collectivity.spec.administrators ?? {};
  const subjects = [
    ...(admins.users ?? []).map((name) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "User", name })),
    ...(admins.groups ?? []).map((name) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name })),
  ];
  return [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: childMetadata(collectivity, "collectivity-admin", namespace),
      rules: administratorRules,
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: childMetadata(collectivity, "collectivity-admins", namespace),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "collectivity-admin" },
      subjects,
    },
  ];
}
