/**
 * Benchmark: the business events the observatory counts exactly. Two measurements, each against
 * a floor measured in the same run on the same NATS and FerretDB:
 * - recording: BENCH_EVENTS events through the kit's BusinessEvents (JetStream publish, stored
 *   acknowledgement, deduplication id), against plain JetStream publishes of the same messages
 *   into a stream of the same settings;
 * - counting: the observatory reading them from the stream into its database (validation, one
 *   document each, its place in the stream kept), against a plain consumer inserting the same
 *   documents. Then the time of one report's totals over all of them (a page reuses them 15 s).
 *
 * Runs on a platform of its own (.local/bench-events, ports +7000), started and stopped here.
 */
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import { down, platformEnv } from "@mutualis/local-platform";
import { EventCounts } from "@mutualis/observatory";
import { BusinessEvents, createLogger, Database, ensureEventStream, eventStream, ServiceMetrics } from "@mutualis/service-kit";
import { benchServicesAccount, freshBenchPlatform, saveResult } from "./support.ts";

const events = Number(process.env.BENCH_EVENTS ?? 5000);
const collectivities = 300;

async function waitFor(what: string, done: () => Promise<boolean> | boolean, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`bench: gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const seconds = (since: number) => (performance.now() - since) / 1000;

async function main(): Promise<void> {
  const config = await freshBenchPlatform(".local/bench-events", "7000");
  const env = platformEnv(config);
  const log = createLogger("bench", "error");
  let nc: NatsConnection | undefined;
  let counts: EventCounts | undefined;
  const mongo = await new MongoClient(env.MONGODB_URI).connect();
  const database = await Database.connect(env.MONGODB_URI, "bench_observatory", "bench");
  try {
    const { connectAs } = await benchServicesAccount(config);
    nc = await connectAs("bench");
    await ensureEventStream(nc);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "FLOOR", subjects: ["floor.>"], retention: RetentionPolicy.Limits, storage: StorageType.File, duplicate_window: nanos(3_600_000) });
    const js = jetstream(nc);
    const at = new Date().toISOString();
    const body = (i: number) => JSON.stringify({ id: `act-${i}`, value: 1, at });

    console.log(`bench: floor — ${events} plain JetStream publishes, all in flight`);
    let started = performance.now();
    await Promise.all(Array.from({ length: events }, (_, i) => js.publish(`floor.c${i % collectivities}.actes.submitted`, body(i))));
    const floorRecord = seconds(started);

    console.log(`bench: BusinessEvents — ${events} events recorded (deduplication id, stored acknowledgement), all in flight`);
    const recorder = new BusinessEvents(nc, "actes", undefined, log, new ServiceMetrics("bench"));
    started = performance.now();
    for (let i = 0; i < events; i++) recorder.record(`c${i % collectivities}`, "submitted", `act-${i}`);
    await recorder.settle();
    const record = seconds(started);
    const last = (await jsm.streams.info(eventStream.name)).state.last_seq;
    if (last < events) throw new Error(`bench: the events stream holds ${last} events, not ${events}`);

    console.log("bench: floor — a plain consumer inserting one document per message");
    const floorDocs = mongo.db("bench_floor").collection<{ _id: string; collectivity?: string; key: string; value: number; at: Date }>("events");
    started = performance.now();
    const floorMessages = await (await js.consumers.get("FLOOR")).consume();
    let floorSeen = 0;
    void (async () => {
      for await (const msg of floorMessages) {
        const parsed = msg.json<{ id: string; value: number; at: string }>();
        await floorDocs.insertOne({ _id: `${msg.subject}.${parsed.id}`, collectivity: msg.subject.split(".")[1], key: "actes.submitted", value: parsed.value, at: new Date(parsed.at) });
        if (++floorSeen >= events) break;
      }
    })();
    await waitFor("the floor consumer", () => floorSeen >= events);
    const floorCount = seconds(started);
    await floorMessages.close();

    console.log("bench: the observatory counting them (validation, one document each, its place kept)");
    counts = new EventCounts(database, log);
    started = performance.now();
    await counts.start(nc);
    await waitFor("the observatory", () => counts!.position >= last);
    const count = seconds(started);

    const timings: number[] = [];
    let total = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      // A reader of its own each time: the observatory reuses a count for 15 s.
      const totals = await new EventCounts(database, log).totals(30);
      timings.push(performance.now() - t);
      total = [...totals.values()].reduce((n, row) => n + (row["actes.submitted"] ?? 0), 0);
    }
    if (total !== events) throw new Error(`bench: the observatory counted ${total} events, not ${events}`);
    timings.sort((a, b) => a - b);

    const result = {
      events,
      collectivities,
      record: { floorPerSecond: Math.round(events / floorRecord), perSecond: Math.round(events / record), ratio: Number((record / floorRecord).toFixed(2)) },
      count: { floorPerSecond: Math.round(events / floorCount), perSecond: Math.round(events / count), ratio: Number((count / floorCount).toFixed(2)) },
      totalsMedianMs: Number(timings[2]!.toFixed(1)),
    };
    saveResult(config, "events.json", result);
    console.log("");
    console.log(`Business events, ${events} over ${collectivities} collectivities:`);
    console.log(`  recording: floor (plain JetStream publish) ${result.record.floorPerSecond}/s; BusinessEvents ${result.record.perSecond}/s — ${result.record.ratio}× the floor's time`);
    console.log(`  counting: floor (plain consumer, one insert each) ${result.count.floorPerSecond}/s; the observatory ${result.count.perSecond}/s — ${result.count.ratio}× the floor's time`);
    console.log(`  one report's totals over all of them (aggregation in FerretDB, reused for 15 s): ${result.totalsMedianMs} ms (median of 5); counted exactly: ${total}`);
  } finally {
    await counts?.stop();
    await nc?.close();
    await database.close();
    await mongo.close();
    await down(config);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
