import { ageColumn, readyColumn, reasonColumn, type ResourceDefinition } from "./crd.ts";
import { enumeration, freeForm, immutable, integer, object, resourceStatus, string } from "./dsl.ts";

/** How much a ServiceInstance may say to its service: settings are a few limits and names, never data. */
export const maxSettingsProperties = 32;
export const maxSettingsBytes = 8192;

/** The services of the catalogue (SPEC.md, "The platform's services"). */
export const serviceNames = ["actes", "helios", "parapheur", "marketplace", "sesf", "ipl", "invoices", "identity", "flows"] as const;
export const plans = ["small", "standard", "large"] as const;
export const tenancies = ["shared", "dedicated"] as const;

export const serviceInstance: ResourceDefinition = {
  kind: "ServiceInstance",
  plural: "serviceinstances",
  singular: "serviceinstance",
  shortNames: ["si"],
  scope: "Namespaced",
  description:
    "One service of the catalogue for one collectivity, created in its namespace: either enabled on the platform's " +
    "shared deployment (the mutualised default) or run as the collectivity's own pods.",
  spec: object(
    "The service the collectivity asks for.",
    {
      service: immutable(
        enumeration("Which service of the catalogue.", serviceNames),
        "the service of a ServiceInstance cannot change; create another ServiceInstance",
      ),
      plan: enumeration("Size of the service: resources and limits grow from small to large.", plans, { default: "standard" }),
      version: string("Version of the service to run; the platform's current version when left out.", {
        maxLength: 32,
        pattern: "^v?[0-9]+\\.[0-9]+(\\.[0-9]+)?$",
      }),
      tenancy: enumeration(
        "shared: the collectivity is enabled on the platform's shared deployment (cheaper, mutualised); " +
          "dedicated: the service runs as pods in the collectivity's own namespace.",
        tenancies,
        { default: "shared" },
      ),
      replicas: integer("Number of pods of a dedicated service.", { minimum: 1, maximum: 10 }),
      settings: freeForm(`Service-specific settings, as documented by each service: at most ${maxSettingsProperties} of them, ${maxSettingsBytes} bytes in all.`, {
        maxProperties: maxSettingsProperties,
      }),
    },
    {
      required: ["service"],
      "x-kubernetes-validations": [
        {
          rule: "!has(self.replicas) || self.tenancy == 'dedicated'",
          message: "replicas can only be set when tenancy is dedicated",
          fieldPath: ".replicas",
        },
      ],
    },
  ),
  status: resourceStatus({
    tenancy: string("The tenancy in effect."),
    readyReplicas: integer("Pods of a dedicated service that are ready.", { minimum: 0 }),
    url: string("Where the collectivity reaches the service through the platform gateway."),
  }),
  printerColumns: [
    { name: "Service", type: "string", jsonPath: ".spec.service", description: "Service of the catalogue." },
    { name: "Plan", type: "string", jsonPath: ".spec.plan", description: "Size." },
    { name: "Tenancy", type: "string", jsonPath: ".spec.tenancy", description: "Shared or dedicated." },
    readyColumn,
    reasonColumn,
    { name: "URL", type: "string", jsonPath: ".status.url", description: "Gateway URL.", priority: 1 },
    ageColumn,
  ],
};
