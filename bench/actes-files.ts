/**
 * Benchmark: acts with large annexes (20 MB each by default, @ctes allows 150 MB per act), their
 * files in JetStream's object store, against the floor of a plain object store client (the
 * @nats-io/obj library) doing the same object store work, in the same run, on the same server.
 *
 * - upload: an agent uploads the annex in 1 MiB chunks (one request each, base64 in JSON, checked
 *   and recorded), then finishes it (the service reads it back and hashes it). Floor: `put` of
 *   the same bytes with the object store client.
 * - transmission: acts, each with one uploaded annex, submitted together; timed from the first
 *   submission to the last acknowledgement (the archive made as the annex is read from the
 *   store, delivered to the prefecture in chunks, read back and checked there). Floor, per act:
 *   `put` its bytes in the object store and publish one JetStream message, as many at a time.
 *
 * actes and the prefecture simulator run in this process, on a platform of the bench's own
 * (.local/bench-actes, ports +8000). BENCH_ACTES_ANNEX_BYTES and BENCH_ACTES_ACTS change the sizes.
 */
import { createHash, randomBytes } from "node:crypto";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { actesService, actesSettings } from "@mutualis/actes";
import { demoToken, down, platformEnv } from "@mutualis/local-platform";
import { prefectureSimulator, simulatorSettings } from "@mutualis/prefecture-simulator";
import { chunkBytes, loadSettings, RunningService } from "@mutualis/service-kit";
import { benchIdentity, benchServicesAccount, freshBenchPlatform, pool, saveResult } from "./support.ts";

const annexBytes = Number(process.env.BENCH_ACTES_ANNEX_BYTES ?? 20 * 1024 * 1024);
const acts = Number(process.env.BENCH_ACTES_ACTS ?? 10);
const uploads = 3;

const mib = (bytes: number) => bytes / 1024 ** 2;
const rate = (bytes: number, ms: number) => Number((mib(bytes) / (ms / 1000)).toFixed(1));

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** A PDF-looking file of `bytes` pseudo-random bytes, different for each `seed`. */
function annex(bytes: number, seed: number): Buffer {
  const block = randomBytes(1024 * 1024);
  const content = Buffer.alloc(bytes);
  for (let offset = 0; offset < bytes; offset += block.length) block.copy(content, offset, 0, Math.min(block.length, bytes - offset));
  content.write(`%PDF-1.7\n%${seed}\n`, 0, "latin1");
  return content;
}

function streamOf(content: Buffer): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= content.length) return controller.close();
      controller.enqueue(content.subarray(offset, (offset += chunkBytes)));
    },
  });
}

async function main(): Promise<void> {
  const config = await freshBenchPlatform(".local/bench-actes", "8000");
  const env = platformEnv(config);
  const services: RunningService[] = [];
  let client: NatsConnection | undefined;
  try {
    const { credsFile, connectAs } = await benchServicesAccount(config);
    services.push(await benchIdentity(config, credsFile));
    const common = { HTTP_PORT: "0", HTTP_INTERNAL_PORT: "0", HTTP_HOST: "127.0.0.1", NATS_URL: env.NATS_URL, NATS_CREDS_FILE: credsFile, MONGODB_URI: env.MONGODB_URI, LOG_LEVEL: "error", IDENTITY_ISSUER: env.IDENTITY_ISSUER, IDENTITY_CA_FILE: env.IDENTITY_CA_FILE };
    const storeBytes = String(1024 ** 3);
    services.push(await new RunningService(prefectureSimulator(), loadSettings(simulatorSettings, { ...common, SERVICE_NAME: "prefecture-simulator", MONGODB_DATABASE: "prefecture", SIMULATOR_ACK_DELAY_MS: "0", SIMULATOR_ARCHIVES_MAX_BYTES: storeBytes })).start());
    services.push(await new RunningService(actesService(), loadSettings(actesSettings, { ...common, SERVICE_NAME: "actes", MONGODB_DATABASE: "actes", ACTES_FILES_MAX_BYTES: storeBytes })).start());
    client = await connectAs("bench");
    await client.request("platform.actes.tenants.enable", JSON.stringify({ collectivity: "rennes", siren: "213502388", departement: "035", displayName: "Rennes", authority: { departement: "035", arrondissement: 3, nature: "31" } }), { timeout: 5000 });
    const asAgent = { headers: natsHeaders() };
    asAgent.headers.set("Authorization", `Bearer ${await demoToken(config, "agent@ville-rennes.example")}`);
    const nc = client;
    const call = async <T>(subject: string, body: unknown): Promise<T> => {
      const reply = await nc.request(`tenant.rennes.actes.${subject}`, JSON.stringify(body), { timeout: 60_000, ...asAgent });
      if (reply.headers?.get("Nats-Service-Error-Code")) throw new Error(`${subject} answered ${reply.headers.get("Nats-Service-Error-Code")}: ${reply.headers.get("Nats-Service-Error")}`);
      return reply.json<T>();
    };
    const upload = async (content: Buffer): Promise<string> => {
      const sha256 = createHash("sha256").update(content).digest("hex");
      const { id } = await call<{ id: string }>("uploads.start", { fileName: "annexe.pdf", mimeType: "application/pdf", size: content.length, sha256 });
      for (let index = 0; index * chunkBytes < content.length; index++) {
        await call("uploads.chunk", { id, index, contentBase64: content.subarray(index * chunkBytes, (index + 1) * chunkBytes).toString("base64") });
      }
      await call("uploads.finish", { id });
      return id;
    };

    // Upload, then its floor.
    const files = Array.from({ length: Math.max(uploads, acts) }, (_, i) => annex(annexBytes, i));
    console.log(`bench: ${uploads} uploads of ${mib(annexBytes).toFixed(0)} MiB in ${chunkBytes / 1024} KiB chunks`);
    const uploadMs = await timed(async () => {
      for (let i = 0; i < uploads; i++) await upload(files[i]!);
    });
    const store: ObjectStore = await new Objm(client).create("BENCH_FLOOR", { max_bytes: 1024 ** 3 });
    const floorUploadMs = await timed(async () => {
      for (let i = 0; i < uploads; i++) await store.put({ name: `upload-${i}`, options: { max_chunk_size: chunkBytes } }, streamOf(files[i]!));
    });
    console.log(`bench: upload ${rate(uploads * annexBytes, uploadMs)} MiB/s; floor (object store put) ${rate(uploads * annexBytes, floorUploadMs)} MiB/s`);

    // Transmission, then its floor.
    const ids: string[] = [];
    for (let i = 0; i < acts; i++) ids.push(await upload(files[i]!));
    console.log(`bench: ${acts} acts, each with a ${mib(annexBytes).toFixed(0)} MiB annex, submitted together`);
    const submitted: string[] = [];
    const transmissionMs = await timed(async () => {
      await pool(ids.map((id, i) => ({ id, i })), acts, async ({ id, i }) => {
        const act = await call<{ id: string }>("submit", {
          numeroInterne: `G2026_${String(i).padStart(3, "0")}`,
          nature: 1,
          classification: "7.1",
          objet: "Plan local d'urbanisme",
          date: "2026-11-20",
          document: { fileName: "deliberation.pdf", mimeType: "application/pdf", contentBase64: Buffer.from("%PDF-1.7\n%%EOF\n").toString("base64") },
          annexes: [{ upload: id }],
        });
        submitted.push(act.id);
      });
      for (;;) {
        const statuses = await Promise.all(submitted.map((id) => call<{ status: string }>("get", { id })));
        const failed = statuses.find((s) => s.status !== "acknowledged" && s.status !== "waitingForTransmission" && s.status !== "transmitted" && s.status !== "posted");
        if (failed) throw new Error(`an act ended ${failed.status}`);
        if (statuses.every((s) => s.status === "acknowledged")) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    // The floor the issue names: the same bytes stored in the object store, and one message per act.
    const js = jetstream(client);
    await (await jetstreamManager(client)).streams.add({ name: "BENCH_FLOOR_ACTS", subjects: ["bench.floor.acts"], max_bytes: 64 * 1024 * 1024 });
    const floorTransmissionMs = await timed(async () => {
      await pool(files.slice(0, acts).map((content, i) => ({ content, i })), acts, async ({ content, i }) => {
        await store.put({ name: `act-${i}`, options: { max_chunk_size: chunkBytes } }, streamOf(content));
        await js.publish("bench.floor.acts", JSON.stringify({ act: i }));
      });
    });
    const perSecond = (ms: number) => Number((acts / (ms / 1000)).toFixed(2));
    console.log(`bench: transmission ${perSecond(transmissionMs)} acts/s; floor (put and one message per act) ${perSecond(floorTransmissionMs)} acts/s`);

    const result = {
      annexBytes,
      acts,
      upload: { MiBps: rate(uploads * annexBytes, uploadMs), floorMiBps: rate(uploads * annexBytes, floorUploadMs) },
      transmission: { actsPerSecond: perSecond(transmissionMs), floorActsPerSecond: perSecond(floorTransmissionMs) },
      ratios: {
        upload: Number((uploadMs / floorUploadMs).toFixed(2)),
        transmission: Number((transmissionMs / floorTransmissionMs).toFixed(2)),
      },
    };
    console.log(`bench: actes / floor (time, lower is better): upload ${result.ratios.upload}×, transmission ${result.ratios.transmission}×`);
    saveResult(config, "actes-files.json", result);
  } finally {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await client?.close();
    await down(config);
  }
}

await main();
