import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { isConflict, isNotFound } from "../kube/errors.ts";
import { resourceTypes } from "../kube/resources.ts";
import type { Logger } from "./log.ts";

interface Lease extends KubernetesObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

function microTime(date: Date): string {
  return date.toISOString().replace("Z", "000Z");
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it. A lease is expired
 * when its record has not changed for its duration, measured on this process's own clock from
 * when the change was observed, so clock skew between replicas does not matter.
 */
export class LeaderElector {
  private observedRecord = "";
  private observedAt = 0;
  private leading = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly durationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly callbacks: { onStartedLeading(): void; onStoppedLeading(): void },
  ) {
    this.durationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryMs = options.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let lastRenewal = 0;
    while (!this.stopped) {
      let renewed = false;
      try {
        renewed = await this.tryAcquireOrRenew();
      } catch (error) {
        this.log.warn({ err: error }, "leader election: could not read or write the lease");
      }
      if (this.stopped) break;
      const now = Date.now();
      if (renewed) {
        lastRenewal = now;
        if (!this.leading) {
          this.leading = true;
          this.log.info({ lease: this.options.name, identity: this.options.identity }, "became leader");
          this.callbacks.onStartedLeading();
        }
      } else if (this.leading && now - lastRenewal > this.renewDeadlineMs) {
        this.leading = false;
        this.log.error({ lease: this.options.name }, "lost leadership: could not renew the lease in time");
        this.callbacks.onStoppedLeading();
      }
      await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const now = new Date();
    const spec = (transitions: number, acquire: string | undefined) => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(this.durationMs / 1000),
      acquireTime: acquire ?? microTime(now),
      renewTime: microTime(now),
      leaseTransitions: transitions,
    });
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(resourceTypes.Lease, name, namespace);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await this.client.create<Lease>(resourceTypes.Lease, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: spec(0, undefined),
        });
        return true;
      } catch (createError) {
        if (isConflict(createError)) return false;
        throw createError;
      }
    }
    const record = JSON.stringify(lease.spec ?? {});
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = now.getTime();
    }
    const holder = lease.spec?.holderIdentity ?? "";
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    const mine = holder === identity;
    if (!mine && holder !== "" && now.getTime() < this.observedAt + durationMs) return false;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1);
    try {
      const updated = await this.client.replace<Lease>(resourceTypes.Lease, {
        ...lease,
        spec: spec(transitions, mine ? lease.spec?.acquireTime : undefined),
      });
      this.observedRecord = JSON.stringify(updated.spec ?? {});
      this.observedAt = now.getTime();
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  /** Stops campaigning; a leader gives the lease up so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.get<Lease>(resourceTypes.Lease, this.options.name, this.options.namespace);
      if (lease.spec?.holderIdentity === this.options.identity) {
        await this.client.replace<Lease>(resourceTypes.Lease, {
          ...lease,
          spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(new Date()) },
        });
        this.log.info({ lease: this.options.name }, "released the lease");
      }
    } catch (error) {
      this.log.warn({ err: error }, "could not release the lease");
    }
  }
}
