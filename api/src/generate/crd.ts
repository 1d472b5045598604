import { apiVersion, category, group, version, type ResourceDefinition } from "../schema/index.ts";
import { object, string, type Schema } from "../schema/dsl.ts";

/** The apiextensions.k8s.io/v1 CustomResourceDefinition of one resource. */
export function customResourceDefinition(definition: ResourceDefinition): Record<string, unknown> {
  const root: Schema = {
    ...object(
      definition.description,
      {
        apiVersion: string(`APIVersion of this object: ${apiVersion}.`),
        kind: string(`Kind of this object: ${definition.kind}.`),
        // The API server owns metadata's schema and refuses a description here.
        metadata: { type: "object" } as Schema,
        spec: definition.spec,
        status: definition.status,
      },
      { required: ["spec"] },
    ),
    ...(definition.rules && definition.rules.length > 0 ? { "x-kubernetes-validations": definition.rules } : {}),
  };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${definition.plural}.${group}`,
      labels: { "app.kubernetes.io/part-of": "mutualis" },
    },
    spec: {
      group,
      names: {
        kind: definition.kind,
        listKind: `${definition.kind}List`,
        plural: definition.plural,
        singular: definition.singular,
        shortNames: definition.shortNames,
        categories: [category],
      },
      scope: definition.scope,
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns,
          schema: { openAPIV3Schema: root },
        },
      ],
    },
  };
}
