import { setTimeout as sleep } from "node:timers/promises";
import { DeliverPolicy, jetstream, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureEventStream, eventStream, parseEventSubject, type Database, type Logger } from "@mutualis/service-kit";
import { z } from "zod";
import type { Series } from "./prometheus.ts";

/** One event as the observatory keeps it; `_id` (its deduplication id) makes a repeated event count once. */
interface StoredEvent {
  _id: string;
  collectivity: string;
  /** `<service>.<event>`, e.g. `actes.submitted`. */
  key: string;
  value: number;
  at: Date;
}

const eventBody = z.object({ id: z.string().min(1).max(300), value: z.number().finite().nonnegative(), at: z.iso.datetime({ offset: true }) });

/** Totals per collectivity, by event key (`actes.submitted`: 12). */
export type Totals = Map<string, Record<string, number>>;

/** Where the observatory stands in the stream is written at most this often (a replay counts nothing twice). */
const progressEvery = 200;

/** How long a report's totals are reused: counting the window's events is the costly part of a page. */
const totalsTtlMs = 15_000;

/**
 * The services' business events, read from the platform's events stream and kept in the
 * observatory's database, where they are counted exactly: each event once (its id is the
 * document's, so keeping it is one atomic write that a repeat cannot make twice), whatever the
 * restarts of the services or of the observatory, or a second replica reading the same stream.
 * Where it stands in the stream is kept too, so a restart goes on from there; what it reads again
 * counts nothing twice.
 */
export class EventCounts {
  private readonly events;
  private readonly progress;
  private cached: { days: number; at: number; totals: Promise<Totals> } | undefined;
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** The stream sequence of the last event applied. */
  private applied = 0;

  constructor(
    database: Database,
    private readonly log: Logger,
  ) {
    this.events = database.collection<StoredEvent>("events");
    this.progress = database.collection<{ _id: string; seq: number }>("progress");
  }

  async start(nc: NatsConnection, replicas = 1): Promise<void> {
    await ensureEventStream(nc, replicas);
    await this.events.createIndex({ at: 1 });
    this.running = this.follow(nc);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
    await this.running;
    if (this.applied > 0) await this.saveProgress().catch(() => undefined);
  }

  /** How far the observatory has read the stream (for tests and the logs). */
  get position(): number {
    return this.applied;
  }

  /** Reads the stream from where it stopped, for ever; after a failure, again from what was kept. */
  private async follow(nc: NatsConnection): Promise<void> {
    while (!this.stopped) {
      try {
        this.applied = (await this.progress.findOne({ _id: "events" }))?.seq ?? 0;
        const consumer = await jetstream(nc).consumers.get(eventStream.name, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.applied + 1 });
        this.messages = await consumer.consume();
        for await (const msg of this.messages) {
          await this.apply(msg);
          if (this.stopped) break;
        }
      } catch (error) {
        if (this.stopped) return;
        this.log.warn({ reason: (error as Error).message }, "reading the business events failed: trying again in 5 s");
      }
      await this.messages?.close().catch(() => undefined);
      if (!this.stopped) await sleep(5000);
    }
  }

  private async apply(msg: JsMsg): Promise<void> {
    const where = parseEventSubject(msg.subject);
    const body = eventBody.safeParse(safeJson(msg));
    if (!where || !body.success) {
      // Kept out of the counts, said once: a service sending something else on the events' subjects.
      this.log.warn({ subject: msg.subject, seq: msg.seq }, "a message on the events stream is not a business event: not counted");
    } else {
      const id = msg.headers?.get("Nats-Msg-Id") || `${msg.subject}.${body.data.id}`;
      try {
        await this.events.insertOne({ _id: id, collectivity: where.collectivity, key: `${where.service}.${where.event}`, value: body.data.value, at: new Date(body.data.at) });
      } catch (error) {
        if ((error as { code?: number }).code !== 11000) throw error;
        // Already counted: a retry of the service, a replay after a restart, another replica.
      }
    }
    this.applied = msg.seq;
    if (msg.seq % progressEvery === 0 || msg.info.pending === 0) await this.saveProgress();
  }

  private async saveProgress(): Promise<void> {
    await this.progress.updateOne({ _id: "events" }, { $max: { seq: this.applied } }, { upsert: true });
  }

  /**
   * Every collectivity's totals over the last `days` days, by event key. Counted again at most
   * every 15 s: the pages of that time share one count.
   */
  totals(days: number): Promise<Totals> {
    const now = Date.now();
    if (this.cached?.days === days && now - this.cached.at < totalsTtlMs) return this.cached.totals;
    const totals = this.count(new Date(now - days * 86_400_000));
    this.cached = { days, at: now, totals };
    // A failed count is not kept: the next page tries again.
    totals.catch(() => {
      if (this.cached?.totals === totals) this.cached = undefined;
    });
    return totals;
  }

  private async count(since: Date): Promise<Totals> {
    const rows = await this.events
      .aggregate<{ _id: { collectivity: string; key: string }; total: number }>([
        { $match: { at: { $gte: since } } },
        { $group: { _id: { collectivity: "$collectivity", key: "$key" }, total: { $sum: "$value" } } },
      ])
      .toArray();
    const totals: Totals = new Map();
    for (const { _id, total } of rows) {
      const row = totals.get(_id.collectivity) ?? {};
      row[_id.key] = total;
      totals.set(_id.collectivity, row);
    }
    return totals;
  }

  /**
   * A collectivity's running total of some events over the days from `since`'s, one point a day
   * (the last, today, so far): the curve of what it did, exactly. No point when nothing was done.
   */
  async series(collectivity: string, keys: readonly string[], since: Date, now = new Date()): Promise<Series> {
    const first = dayOf(since);
    const found = await this.events.find({ collectivity, key: { $in: [...keys] }, at: { $gte: first } }, { projection: { value: 1, at: 1 } }).toArray();
    const byDay = new Map<number, number>();
    for (const { at, value } of found) byDay.set(dayOf(at).getTime(), (byDay.get(dayOf(at).getTime()) ?? 0) + value);
    const points: [number, number][] = [];
    let total = 0;
    for (let day = first.getTime(); day <= dayOf(now).getTime(); day += 86_400_000) {
      total += byDay.get(day) ?? 0;
      points.push([Math.min(day + 86_400_000 - 1000, now.getTime()) / 1000, total]);
    }
    return { metric: { collectivity }, points: total > 0 ? points : [] };
  }
}

/** Midnight UTC of the day `at` falls on. */
function dayOf(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}

function safeJson(msg: JsMsg): unknown {
  try {
    return msg.json();
  } catch {
    return undefined;
  }
}
