import { App, Chart } from "cdk8s";
import type { Construct } from "constructs";

/** A Kubernetes object as plain JSON, ready for server-side apply. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
  };
  [field: string]: unknown;
};

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/**
 * Builds constructs in a chart of their own and returns its objects, in process: nothing is
 * written to disk. The operator renders every child of a resource this way; names are the
 * constructs' own (no hashes), so they stay stable across reconciles.
 */
export function render(build: (scope: Construct) => void): Manifest[] {
  const chart = new Chart(new App(), "render", { disableResourceNameHashes: true });
  build(chart);
  return chart.toJson() as Manifest[];
}
