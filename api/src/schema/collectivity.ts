import { ageColumn, readyColumn, reasonColumn, type ResourceDefinition } from "./crd.ts";
import { array, boolean, enumeration, immutable, integer, object, printable, quantity, resourceStatus, string, type CelRule } from "./dsl.ts";

export const collectivityCategories = ["commune", "epci", "departement", "region", "syndicat", "other"] as const;
export const deletionPolicies = ["Retain", "Delete"] as const;

/** The longest Collectivity name: it becomes the namespace `coll-<name>` and NATS subjects `tenant.<name>.…`. */
export const maxCollectivityNameLength = 40;

/**
 * SIREN (9 digits) and SIRET (14) numbers carry a Luhn check digit. CEL has no loops, so the
 * digits are summed one by one; counting from the right, every second digit is doubled, and a
 * doubled digit d counts as the d-th entry of the table (2d, minus 9 past 9).
 */
function luhnRule(length: number): string {
  const doubled = "[0,2,4,6,8,1,3,5,7,9]";
  const terms = Array.from({ length }, (_, i) => {
    const digit = `int(self.substring(${i}, ${i + 1}))`;
    return (length - 1 - i) % 2 === 1 ? `${doubled}[${digit}]` : digit;
  });
  return `!self.matches('^[0-9]{${length}}$') || (${terms.join(" + ")}) % 10 == 0`;
}

/**
 * The kinds of authority @ctes knows (the envelope's IDCL@Nature, two digits), as the
 * prefectures' reference data and S²LOW have them. The prefecture refuses an envelope whose
 * nature is not the one it registered for the collectivity.
 */
export const actesNatures = {
  "11": "Conseil régional",
  "12": "Établissement public local d'enseignement (région)",
  "13": "Autre établissement public (région)",
  "14": "Société d'économie mixte locale (région)",
  "21": "Conseil départemental",
  "22": "Établissement public de santé (département)",
  "23": "Établissement public local d'enseignement (département)",
  "24": "Autre établissement public (département)",
  "25": "Société d'économie mixte locale (département)",
  "31": "Commune",
  "32": "Établissement public de santé (commune)",
  "33": "Autre établissement public (commune)",
  "34": "Société d'économie mixte locale (commune)",
  "41": "Syndicat de communes ou syndicat mixte fermé",
  "42": "Syndicat mixte ouvert",
  "43": "Syndicat d'agglomération nouvelle",
  "44": "Communauté de communes",
  "45": "Communauté urbaine ou métropole",
  "46": "Communauté d'agglomération",
  "47": "Société d'économie mixte locale (groupement)",
  "51": "Service départemental d'incendie et de secours",
  "52": "Entente interdépartementale",
  "53": "Entente interrégionale",
  "54": "Autre société d'économie mixte locale",
  "55": "Autre établissement",
  "61": "Association syndicale autorisée",
  "62": "Association foncière urbaine autorisée",
  "63": "Association foncière de remembrement",
  "71": "Autre",
  "72": "Société publique locale",
  "73": "Société d'économie mixte à opération unique",
  "74": "Commission syndicale",
} as const;

export type ActesNature = keyof typeof actesNatures;

const sirenRules: CelRule[] = [
  { rule: "self.matches('^[0-9]{9}$')", message: "a SIREN is exactly 9 digits" },
  { rule: luhnRule(9), message: "this is not a valid SIREN: its check digit (Luhn) does not match" },
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
      rule: "!has(self.spec.actes) || !has(self.spec.actes.siret) || self.spec.actes.siret.startsWith(self.spec.siren)",
      message: "spec.actes.siret must begin with the collectivity's SIREN (spec.siren)",
    },
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
      actes: object(
        "What the prefecture's @ctes knows of the collectivity, written in every envelope it transmits. Required by the actes " +
          "service: an act is not submitted for a collectivity that does not declare it.",
        {
          departement: string(
            "The département whose prefecture controls the collectivity's acts, three characters as @ctes writes it: 035, 02A, 974.",
            { minLength: 3, maxLength: 3, pattern: "^[09][0-9][0-9AB]$" },
          ),
          arrondissement: integer("The arrondissement (one digit) the prefecture registered the collectivity in.", { minimum: 0, maximum: 9 }),
          nature: enumeration(
            "The kind of authority as @ctes codes it (two digits): 31 commune, 21 département, 11 région, 41/42 syndicats, " +
              "44 communauté de communes, 45 communauté urbaine or métropole, 46 communauté d'agglomération, 51 SDIS…",
            Object.keys(actesNatures),
          ),
          siret: string("The SIRET of the collectivity's seat (14 digits: its SIREN and an establishment number), named in its open data.", {
            maxLength: 14,
            "x-kubernetes-validations": [
              { rule: "self.matches('^[0-9]{14}$')", message: "a SIRET is exactly 14 digits" },
              { rule: luhnRule(14), message: "this is not a valid SIRET: its check digit (Luhn) does not match" },
            ],
          }),
        },
        { required: ["departement", "arrondissement", "nature"] },
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
