import { setTimeout as sleep } from "node:timers/promises";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { Logger } from "./log.ts";
import type { ServiceMetrics } from "./metrics.ts";

/**
 * The platform's business events: what a collectivity did (an act submitted, a file shared), one
 * message each on `events.<collectivity>.<service>.<event>`, kept in one JetStream stream of the
 * platform services account. The observatory counts them exactly, where a counter scraped by
 * Prometheus loses what happened between its last scrape and a restart.
 */
export const eventStream = {
  name: "MUTUALIS_EVENTS",
  subjects: ["events.>"],
  /** A year and a month: the observatory's longest window (a year) can always be counted again from it. */
  maxAgeDays: 400,
  /** A message published twice within this window (a retry) is stored once. */
  duplicateWindowMinutes: 60,
} as const;

/** One business event, as stored. */
export interface BusinessEvent {
  /** The business object it is about (an act's id, a file's): with the subject, what makes the event unique. */
  readonly id: string;
  /** 1 for a count; a quantity otherwise (bytes uploaded). */
  readonly value: number;
  /** When it happened. */
  readonly at: string;
}

const namePattern = /^[a-z][a-z0-9_]*$/;

export function eventSubject(collectivity: string, service: string, event: string): string {
  return `events.${collectivity}.${service}.${event}`;
}

/** Reads `events.<collectivity>.<service>.<event>` back; undefined for any other subject. */
export function parseEventSubject(subject: string): { collectivity: string; service: string; event: string } | undefined {
  const [root, collectivity, service, event, ...rest] = subject.split(".");
  if (root !== "events" || !collectivity || !service || !event || rest.length > 0) return undefined;
  return { collectivity, service, event };
}

/**
 * Creates the events stream unless it exists (every service that records events may be first),
 * with `replicas` copies (one per node of a cluster).
 */
export async function ensureEventStream(nc: NatsConnection, replicas = 1): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: eventStream.name,
    num_replicas: replicas,
    subjects: [...eventStream.subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(eventStream.maxAgeDays * 86_400_000),
    duplicate_window: nanos(eventStream.duplicateWindowMinutes * 60_000),
  };
  try {
    await jsm.streams.info(eventStream.name);
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (error) {
      // Another service made it in the meantime.
      await jsm.streams.info(eventStream.name).catch(() => {
        throw error;
      });
    }
  }
}

/**
 * Records a service's business events: each is published into the platform's events stream,
 * which says when it has stored it (a dedicated deployment's go through its collectivity's import
 * of its own events' subjects, and the answer comes back the same way). Retried for about a minute
 * (deduplicated by the event's id); one that cannot be recorded is logged as an error and
 * counted, never dropped silently. Recording never delays the request that caused it.
 */
export class BusinessEvents {
  private readonly pending = new Set<Promise<void>>();
  private readonly failed;

  constructor(
    private readonly nc: NatsConnection,
    private readonly service: string,
    /** The collectivity a dedicated deployment serves; undefined for a shared one. */
    private readonly tenant: string | undefined,
    private readonly log: Logger,
    metrics: ServiceMetrics,
    /** Copies of the stream, should this service be the one to make it. */
    private readonly replicas = 1,
  ) {
    this.failed = metrics.businessCounter("mutualis_business_events_failed_total", "Business events that could not be recorded (the observatory's exact counts miss them), per collectivity.");
  }

  record(collectivity: string, event: string, id: string, value = 1, at = new Date()): void {
    if (!namePattern.test(event)) throw new Error(`an event's name is lower-case words joined by underscores, not ${event}`);
    if (this.tenant && collectivity !== this.tenant) {
      this.log.error({ collectivity, event }, "a dedicated deployment records events for its own collectivity only: event not recorded");
      this.failed.inc({ collectivity });
      return;
    }
    const subject = eventSubject(collectivity, this.service, event);
    const body: BusinessEvent = { id, value, at: at.toISOString() };
    // Unique on the platform: the same id (a share named by its agents) may exist in two collectivities.
    const msgID = `${subject}.${id}`;
    const sending = this.store(subject, body, msgID).catch((error: unknown) => {
      this.failed.inc({ collectivity });
      this.log.error({ err: error, collectivity, event, id }, "a business event could not be recorded: the observatory's exact counts will miss it");
    });
    this.pending.add(sending);
    void sending.finally(() => this.pending.delete(sending));
  }

  /** Waits for the events being recorded (at a service's stop). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async store(subject: string, body: BusinessEvent, msgID: string): Promise<void> {
    const js = jetstream(this.nc);
    for (let attempt = 0; ; attempt++) {
      try {
        await js.publish(subject, JSON.stringify(body), { msgID, timeout: 5000 });
        return;
      } catch (error) {
        if (attempt >= 6 || this.nc.isClosed()) throw error;
        // No stream yet (a new platform): a shared deployment makes it (a dedicated one's account
        // must not have one of its own); otherwise NATS is away, wait for it.
        if (!this.tenant && /no responders|503/i.test(String((error as Error).message))) await ensureEventStream(this.nc, this.replicas).catch(() => undefined);
        await sleep(Math.min(16_000, 500 * 2 ** attempt));
      }
    }
  }
}
