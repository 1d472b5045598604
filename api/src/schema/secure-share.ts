import { ageColumn, readyColumn, reasonColumn, type ResourceDefinition } from "./crd.ts";
import { array, enumeration, integer, object, printable, resourceStatus, string, type CelRule } from "./dsl.ts";

/** The Secrets the platform keeps in a tenant's namespace: never a share's password. */
export const platformSecrets = ["nats-credentials", "database"] as const;
const platformSecretRules: CelRule[] = [
  {
    rule: `!(self in [${platformSecrets.map((name) => `'${name}'`).join(", ")}]) && !self.endsWith('-links')`,
    message: "names a Secret the platform manages (nats-credentials, database, <share>-links): name a Secret of your own",
  },
];

export const shareStates = ["Pending", "Ready", "Expired", "Revoked", "Failed"] as const;

export const secureShare: ResourceDefinition = {
  kind: "SecureShare",
  plural: "secureshares",
  singular: "secureshare",
  shortNames: ["share"],
  scope: "Namespaced",
  description:
    "A secure file exchange between a collectivity and recipients: encrypted, expiring, optionally download-limited " +
    "and password-protected. File contents never go into the cluster; recipients' links are kept in a Secret.",
  spec: object(
    "The share the collectivity declares.",
    {
      description: string("What is shared, shown to recipients.", { maxLength: 500 }),
      recipients: array(
        "Who may download; each recipient gets a link of their own.",
        object(
          "A recipient.",
          {
            email: string("The recipient's e-mail address.", {
              maxLength: 254,
              "x-kubernetes-validations": [
                { rule: "self.matches('^[^@\\\\s]+@[^@\\\\s]+\\\\.[^@\\\\s]+$')", message: "must be an e-mail address such as agent@mairie-rennes.fr" },
              ],
            }),
            name: string("The recipient's name, shown in the audit trail.", { maxLength: 200, "x-kubernetes-validations": printable }),
          },
          { required: ["email"] },
        ),
        { minItems: 1, maxItems: 50, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["email"] },
      ),
      expiryDays: integer("Days until the links expire and the content is purged.", { minimum: 1, maximum: 30, default: 7 }),
      downloadLimit: integer("Downloads allowed per link; 1 deletes the content after the first download. Unlimited when left out.", {
        minimum: 1,
        maximum: 1000,
      }),
      passwordSecretRef: object(
        "A Secret in the same namespace holding the password recipients must give; no password when left out.",
        {
          name: string("Name of the Secret; never one the platform manages (nats-credentials, database, <share>-links).", {
            minLength: 1,
            maxLength: 253,
            "x-kubernetes-validations": platformSecretRules,
          }),
          key: string("Key in the Secret that holds the password.", { default: "password", minLength: 1, maxLength: 253 }),
        },
        { required: ["name"] },
      ),
    },
    { required: ["recipients"] },
  ),
  status: resourceStatus({
    state: enumeration("Where the share is in its life.", shareStates),
    expiresAt: string("When the links expire.", { format: "date-time" }),
    files: integer("Number of files uploaded.", { minimum: 0 }),
    totalBytes: integer("Total size of the files, in bytes.", { minimum: 0 }),
    downloads: array(
      "Downloads so far, per recipient.",
      object(
        "Downloads of one recipient.",
        {
          recipient: string("The recipient's e-mail address."),
          count: integer("Downloads completed: the whole file was sent.", { minimum: 0 }),
          attempts: integer("Downloads started, including those refused over the download limit or cut short.", { minimum: 0 }),
        },
        { required: ["recipient", "count"] },
      ),
      { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["recipient"] },
    ),
    linksSecret: string("The Secret in this namespace holding each recipient's link."),
  }),
  printerColumns: [
    { name: "State", type: "string", jsonPath: ".status.state", description: "Where the share is in its life." },
    // A string, not a date: kubectl shows a date as an age, which a time still to come does not have.
    { name: "Expires", type: "string", jsonPath: ".status.expiresAt", description: "When the links expire." },
    { name: "Files", type: "integer", jsonPath: ".status.files", description: "Files uploaded." },
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
};
