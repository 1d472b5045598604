import { randomBytes } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { resourceTypes } from "../kube/resources.ts";
import type { Logger } from "./log.ts";

export type EventType = "Normal" | "Warning";

/**
 * Records Kubernetes Events on objects, for significant transitions only. The same event on the
 * same object within ten minutes is recorded once: a retry loop must not flood the API server.
 */
export class EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly instance: string,
    private readonly log: Logger,
    private readonly dedupeMs = 10 * 60_000,
  ) {}

  async record(object: KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    const meta = object.metadata ?? {};
    const key = `${meta.uid}/${reason}/${message}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < this.dedupeMs) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) this.recent.clear();
    const timestamp = new Date(now).toISOString();
    // Events of cluster-scoped objects live in the default namespace, as kubectl expects.
    const namespace = meta.namespace ?? "default";
    try {
      await this.client.create(resourceTypes.Event, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${meta.name}.${randomBytes(8).toString("hex")}`, namespace },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
        type,
        reason,
        message,
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: this.instance,
        firstTimestamp: timestamp,
        lastTimestamp: timestamp,
        count: 1,
      } as KubernetesObject);
    } catch (error) {
      // An event that cannot be written must never fail a reconcile. A namespace being deleted
      // takes no new events: expected while a tenant goes away, not worth a warning.
      const terminating = /being terminated/.test(String((error as Error).message));
      this.log[terminating ? "debug" : "warn"]({ err: error, reason }, "could not record event");
    }
  }
}
