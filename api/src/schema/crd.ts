import type { CelRule, Schema } from "./dsl.ts";

export const group = "mutualis.fr";
export const version = "v1alpha1";
export const apiVersion = `${group}/${version}`;

export interface PrinterColumn {
  readonly name: string;
  readonly type: "string" | "integer" | "number" | "boolean" | "date";
  readonly jsonPath: string;
  readonly description: string;
  readonly priority?: number;
}

/** Everything that defines one custom resource; the CRD, types and validators are derived from it. */
export interface ResourceDefinition {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly scope: "Cluster" | "Namespaced";
  readonly description: string;
  readonly spec: Schema;
  readonly status: Schema;
  /** Rules on the whole object, for example on metadata.name. */
  readonly rules?: readonly CelRule[];
  readonly printerColumns: readonly PrinterColumn[];
}

/** Every Mutualis resource is listed by `kubectl get mutualis`. */
export const category = "mutualis";

/** The standard Ready column, read from the Ready condition. */
export const readyColumn: PrinterColumn = {
  name: "Ready",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: "Whether the resource is ready.",
};

export const reasonColumn: PrinterColumn = {
  name: "Reason",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: "Why the resource is or is not ready.",
  priority: 1,
};

export const ageColumn: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "Time since creation.",
};
