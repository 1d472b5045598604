import { ageColumn, readyColumn, reasonColumn, type ResourceDefinition } from "./crd.ts";
import { array, boolean, enumeration, immutable, integer, object, printable, quantity, resourceStatus, string, type CelRule } from "./dsl.ts";

export const collectivityCategories = ["commune", "epci", "departement", "region", "syndicat", "other"] as const;
export const deletionPolicies = ["Retain", "Delete"] as const;

/** The longest Collectivity name: it becomes the namespace `coll-<name>` and NATS subjects `tenant.<name>.…`. */
export const maxCollectivityNameLength = 40;

/**
 * SIREN numbers carry a Luhn check digit. CEL has no loops, so the nine digits are summed one
 * by one; a doubled digit d counts as the d-th entry of the table (2d, minus 9 past 9).
 */
function sirenLuhnRule(): string {
  const doubled = "[0,2,4,6,8,1,3,5,7,9]";
  const terms = Array.from({ length: 9 }, (_, i) => {
    const digit = `int(self.substring(${i}, ${i + 1}))`;
    // Counting from the right, every second digit is doubled: indexes 7, 5, 3 and 1.
    return i % 2 === 1 ? `${doubled}[${digit}]` : digit;
  });
  return `!self.matches('^[0-9]{9}$') || (${terms.join(" + ")}) % 10 == 0`;
}

const sirenRules: CelRule[] = [
  { rule: "self.matches('^[0-9]{9}$')", message: "a SIREN is exactly 9 digits" },
  { rule: sirenLuhnRule(), message: "this is not a valid SIREN: its check digit (Luhn) does not match" },
];

/** The cluster's own users and groups are never a collectivity's administrators. */
const notSystem: CelRule[] = [{ rule: "!self.startsWith('system:')", message: "system: names are the cluster's own, never a collectivity's administrators" }];

export const collectivity: ResourceDefinition = {
  kind: "Collectivity",
  plural: "collectivities",
  singular: "collectivity",
  shortNames: ["coll"],
  scope: "Cluster",
  description:
    "A local authority (collectivité) that is a tenant of the platform. The operator gives it the namespace coll-<name>, " +
    "with its quota, network isolation, administrators, NATS account and database.",
  rules: [
    {
      rule: `self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= ${maxCollectivityNameLength}`,
      message: `the name must be lower-case letters, digits and '-', start and end with a letter or digit, at most ${maxCollectivityNameLength} characters (it becomes the namespace coll-<name>)`,
    },
  ],
  spec: object(
    "What the platform team declares about the collectivity.",
    {
      displayName: string("The collectivity's name as its agents and citizens know it, e.g. \"Ville de Rennes\".", {
        minLength: 1,
        maxLength: 200,
        "x-kubernetes-validations": printable,
      }),
      siren: immutable(
        string("The collectivity's SIREN number (9 digits with a Luhn check digit), as registered by INSEE.", {
          maxLength: 9,
          "x-kubernetes-validations": sirenRules,
        }),
        "the SIREN of a collectivity cannot change; create a new Collectivity instead",
      ),
      category: enumeration("The kind of authority.", collectivityCategories),
      population: integer("Number of inhabitants (INSEE municipal population); sizes default quotas.", {
        minimum: 0,
        maximum: 100_000_000,
      }),
      administrators: object(
        "Who administers this collectivity's services on the platform: they may manage its ServiceInstances and " +
          "SecureShares and read its workloads, in its namespace only. People of the platform's identity service, " +
          "bound under its prefix (oidc:); the identity's administrators of the collectivity are bound too.",
        {
          users: array("The e-mail addresses of people of the platform's identity service.", string("An e-mail address.", { minLength: 1, maxLength: 253, "x-kubernetes-validations": notSystem }), {
            maxItems: 50,
            "x-kubernetes-list-type": "set",
          }),
          groups: array("Groups of the platform's identity service (mutualis:<collectivity>:<role>).", string("A group name.", { minLength: 1, maxLength: 253, "x-kubernetes-validations": notSystem }), {
            maxItems: 20,
            "x-kubernetes-list-type": "set",
          }),
        },
      ),
      quota: object(
        "Resources the collectivity's namespace may use in total. Each field left out takes the default for the category.",
        {
          cpu: quantity("Total CPU requested by all pods, e.g. \"4\" or \"500m\"."),
          memory: quantity("Total memory requested by all pods, e.g. \"8Gi\"."),
          storage: quantity("Total storage requested by persistent volume claims, e.g. \"100Gi\"."),
          pods: integer("Maximum number of pods.", { minimum: 1, maximum: 10_000 }),
          serviceInstances: integer("Maximum number of ServiceInstances.", { minimum: 0, maximum: 100 }),
        },
      ),
      zone: string(
        "The hosting zone where the collectivity's data and workloads live (data residency), e.g. fr-bzh-1a. Must be one of the platform's zones.",
        { minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
      ),
      suspended: boolean(
        "Suspends the tenant: its NATS user is revoked and its workloads scaled to zero, data kept. Set back to false to resume.",
        { default: false },
      ),
      deletionPolicy: enumeration(
        "What happens to the tenant's data (database, message streams) when the Collectivity is deleted: Retain keeps it, Delete drops it.",
        deletionPolicies,
        { default: "Retain" },
      ),
    },
    { required: ["displayName", "siren", "category", "zone"] },
  ),
  status: resourceStatus({
    namespace: string("The tenant's namespace."),
    zone: string("The hosting zone the tenant's workloads are pinned to."),
    natsAccount: string("Public key of the tenant's NATS account."),
    database: string("Name of the tenant's database."),
  }),
  printerColumns: [
    { name: "SIREN", type: "string", jsonPath: ".spec.siren", description: "SIREN number." },
    { name: "Category", type: "string", jsonPath: ".spec.category", description: "Kind of authority." },
    { name: "Zone", type: "string", jsonPath: ".spec.zone", description: "Hosting zone." },
    readyColumn,
    reasonColumn,
    { name: "Namespace", type: "string", jsonPath: ".status.namespace", description: "Tenant namespace.", priority: 1 },
    ageColumn,
  ],
};
