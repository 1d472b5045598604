/**
 * Benchmark: the secure file exchange moving a 1 GiB file, against the floor of a plain file
 * copy with the same encryption (Node's AES-256-GCM) on the same disk, in the same run.
 *
 * - upload: the client streams the source file over HTTP (PUT); sesf meters, hashes, encrypts
 *   in 1 MiB segments and writes. Floor: read the file, encrypt it, write it.
 * - chunked upload: the same file in 64 MiB chunks, each kept encrypted; the last one makes the
 *   file (decrypt the parts, hash, encrypt the file). Same floor.
 * - download: the client streams the file back and hashes it; sesf reads, verifies and decrypts
 *   segment by segment. Floor: read the encrypted copy, decrypt it, hash it.
 * - with the antivirus: sesf streams every upload to ClamAV as it encrypts (as deployed).
 * - peak memory: sesf's resident peak (VmHWM, reset just before) while a 2 GiB file goes up
 *   and comes back down.
 *
 * sesf runs as a process of its own, as in production, on a platform of its own
 * (.local/bench-sesf, ports +6000), started and stopped here. BENCH_SESF_BYTES changes the size.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { Readable, Writable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import { down, platformEnv, type PlatformConfig } from "@mutualis/local-platform";
import { benchServicesAccount, freshBenchPlatform, peakMemoryMiB, saveResult } from "./support.ts";

const gib = 1024 ** 3;
const size = Number(process.env.BENCH_SESF_BYTES ?? gib);
const largeSize = Number(process.env.BENCH_SESF_LARGE_BYTES ?? 2 * gib);
const chunkBytes = 64 * 1024 * 1024;

/** MiB per second for `bytes` moved in `ms`. */
const rate = (bytes: number, ms: number) => Number((bytes / 1024 ** 2 / (ms / 1000)).toFixed(1));

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** A file of `bytes` pseudo-random bytes (a random MiB, each copy stamped with its offset). */
async function sourceFile(path: string, bytes: number): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(generated(bytes, hash), createWriteStream(path));
  return hash.digest("hex");
}

function generated(bytes: number, hash = createHash("sha256")): Readable {
  const block = randomBytes(1024 * 1024);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return void this.push(null);
      const piece = Buffer.from(block.subarray(0, Math.min(block.length, bytes - sent)));
      if (piece.length >= 8) piece.writeDoubleBE(sent, 0);
      sent += piece.length;
      hash.update(piece);
      this.push(piece);
    },
  });
}

/** A sink that hashes what it is given, as a client saving a download and checking it. */
function hashingSink(): { sink: Writable; sha256: () => string; bytes: () => number } {
  const hash = createHash("sha256");
  let count = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      count += chunk.length;
      done();
    },
  });
  return { sink, sha256: () => hash.digest("hex"), bytes: () => count };
}

/** The floor: a plain streaming copy through AES-256-GCM, then back, hashing what comes out. */
async function floor(source: string, dir: string): Promise<{ uploadMs: number; downloadMs: number }> {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const target = join(dir, "floor.enc");
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const uploadMs = await timed(() => pipeline(createReadStream(source), cipher, createWriteStream(target)));
  const { sink } = hashingSink();
  // One tag for the whole file, checked at its end: the floor verifies less often than the
  // service, which checks every 1 MiB segment before releasing it.
  const decipher = createDecipheriv("aes-256-gcm", key, iv).setAuthTag(cipher.getAuthTag());
  const downloadMs = await timed(() => pipeline(createReadStream(target), decipher as Transform, sink));
  rmSync(target);
  return { uploadMs, downloadMs };
}

async function http(method: string, url: string, body?: Readable, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { "content-type": "application/octet-stream", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body) pipeline(body, req).catch(reject);
    else req.end();
  });
}

async function downloadTo(url: string): Promise<{ sha256: string; bytes: number }> {
  const { sink, sha256, bytes } = hashingSink();
  await new Promise<void>((resolve, reject) => {
    request(url, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`download answered ${res.statusCode}`));
      pipeline(res, sink).then(resolve, reject);
    })
      .on("error", reject)
      .end();
  });
  return { sha256: sha256(), bytes: bytes() };
}

interface Sesf {
  process: ChildProcess;
  stop(): Promise<void>;
}

/** sesf as a process of its own, with the bench account's creds; the antivirus when asked. */
async function startSesf(config: PlatformConfig, credsFile: string, port: number, antivirus: boolean): Promise<Sesf> {
  const env = platformEnv(config);
  const dir = join(config.dir, `sesf-${port}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "master.key"), randomBytes(32).toString("base64"), { mode: 0o600 });
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["--import", "tsx", join(config.root, "services/sesf/src/main.ts")], {
    cwd: config.root,
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      SERVICE_NAME: "sesf",
      HTTP_PORT: String(port),
      HTTP_INTERNAL_PORT: "0",
      HTTP_HOST: "127.0.0.1",
      NATS_URL: env.NATS_URL,
      NATS_CREDS_FILE: credsFile,
      MONGODB_URI: env.MONGODB_URI,
      MONGODB_DATABASE: `bench_sesf_${port}`,
      SESF_STORAGE_DIR: join(dir, "files"),
      SESF_MASTER_KEY_FILE: join(dir, "master.key"),
      SESF_PUBLIC_URL: url,
      SESF_CHUNK_BYTES: String(chunkBytes),
      ...(antivirus ? { SESF_CLAMD_ADDRESS: env.CLAMD_ADDRESS } : {}),
      LOG_LEVEL: "warn",
    },
  });
  // It listens once connected to NATS and the database: any answer means it is up.
  for (let i = 0; i < 240 && !(await fetch(`${url}/`).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 250));
  return {
    process: child,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function newShare(nc: NatsConnection, collectivity: string): Promise<{ uploadUrl: string; links: { url: string }[] }> {
  const reply = await nc.request(`tenant.${collectivity}.sesf.shares.create`, JSON.stringify({ recipients: [{ email: "titulaire@entreprise.example" }] }), { timeout: 10_000 });
  if (reply.headers?.get("Nats-Service-Error-Code")) throw new Error(`create answered ${reply.headers.get("Nats-Service-Error-Code")}: ${reply.headers.get("Nats-Service-Error")}`);
  return reply.json();
}

/** Uploads, then downloads, one file; the times of both and what came back. */
async function roundTrip(nc: NatsConnection, source: () => Readable, bytes: number, chunked = false): Promise<{ uploadMs: number; downloadMs: number; back: { sha256: string; bytes: number } }> {
  await nc.request("platform.sesf.tenants.enable", JSON.stringify({ collectivity: "rennes", siren: "213502388", departement: "035", displayName: "Rennes" }), { timeout: 10_000 });
  const share = await newShare(nc, "rennes");
  let fileId = "";
  const uploadMs = await timed(async () => {
    if (!chunked) {
      const put = await http("PUT", `${share.uploadUrl}/files/plans.bin`, source());
      if (put.status !== 201) throw new Error(`upload answered ${put.status}: ${put.text}`);
      fileId = (JSON.parse(put.text) as { id: string }).id;
      return;
    }
    const started = await fetch(`${share.uploadUrl}/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "plans.bin", size: bytes }) });
    const session = `${share.uploadUrl}/sessions/${((await started.json()) as { id: string }).id}`;
    // Chunks are read from the source as they are sent, never the whole file in memory.
    const stream = source();
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const send = async () => {
      const t = performance.now();
      const sent = await http("PATCH", session, Readable.from(pending), { "upload-offset": String(offset), "content-length": String(pendingBytes) });
      if (sent.status !== 204 && sent.status !== 201) throw new Error(`chunk at ${offset} answered ${sent.status}: ${sent.text}`);
      if (sent.status === 201) fileId = (JSON.parse(sent.text) as { id: string }).id;
      if (process.env.BENCH_VERBOSE) console.log(`bench: chunk at ${offset}: ${(performance.now() - t).toFixed(0)} ms`);
      offset += pendingBytes;
      pending = [];
      pendingBytes = 0;
    };
    for await (const piece of stream as AsyncIterable<Buffer>) {
      pending.push(piece);
      pendingBytes += piece.length;
      if (pendingBytes >= chunkBytes) {
        const whole = Buffer.concat(pending);
        pending = [whole.subarray(0, chunkBytes)];
        pendingBytes = chunkBytes;
        const rest = whole.subarray(chunkBytes);
        await send();
        if (rest.length > 0) {
          pending = [rest];
          pendingBytes = rest.length;
        }
      }
    }
    if (pendingBytes > 0) await send();
  });
  let back = { sha256: "", bytes: 0 };
  const downloadMs = await timed(async () => (back = await downloadTo(`${share.links[0]!.url}/files/${fileId}`)));
  return { uploadMs, downloadMs, back };
}

function check(back: { sha256: string; bytes: number }, sha256: string, bytes: number): void {
  if (back.sha256 !== sha256 || back.bytes !== bytes) throw new Error(`the file came back different (${back.bytes} bytes of ${bytes})`);
}

async function main(): Promise<void> {
  // Real syncs: the exchange's disk is what is measured.
  const config = await freshBenchPlatform(".local/bench-sesf", "6000", false);
  let nc: NatsConnection | undefined;
  const running: Sesf[] = [];
  try {
    const { credsFile, connectAs } = await benchServicesAccount(config);
    nc = await connectAs("bench");

    const work = join(config.dir, "work");
    mkdirSync(work, { recursive: true });
    const source = join(work, "source.bin");
    console.log(`bench: writing a ${(size / gib).toFixed(2)} GiB source file`);
    const sha256 = await sourceFile(source, size);
    const fromDisk = () => createReadStream(source, { highWaterMark: 1024 * 1024 });

    const floorRun = await floor(source, work);
    console.log(`bench: floor (Node AES-256-GCM file copy): encrypt ${rate(size, floorRun.uploadMs)} MiB/s, decrypt ${rate(size, floorRun.downloadMs)} MiB/s`);

    const plain = await startSesf(config, credsFile, config.ports.sesf, false);
    running.push(plain);
    const direct = await roundTrip(nc, fromDisk, size);
    check(direct.back, sha256, size);
    console.log(`bench: sesf: upload ${rate(size, direct.uploadMs)} MiB/s, download ${rate(size, direct.downloadMs)} MiB/s`);
    const chunked = await roundTrip(nc, fromDisk, size, true);
    check(chunked.back, sha256, size);
    console.log(`bench: sesf, chunked upload (64 MiB): upload ${rate(size, chunked.uploadMs)} MiB/s`);

    // Peak memory for a 2 GiB file: the resident peak is reset (clear_refs 5) just before.
    writeFileSync(`/proc/${plain.process.pid}/clear_refs`, "5");
    const baseline = peakMemoryMiB(plain.process.pid!);
    const largeHash = createHash("sha256");
    const large = await roundTrip(nc, () => generated(largeSize, largeHash), largeSize);
    check(large.back, largeHash.digest("hex"), largeSize);
    const peakLarge = peakMemoryMiB(plain.process.pid!);
    console.log(`bench: sesf peak resident memory over a ${(largeSize / gib).toFixed(1)} GiB upload and download: ${peakLarge.toFixed(0)} MiB (${baseline.toFixed(0)} MiB before)`);
    await plain.stop();
    running.pop();

    const scanned = await startSesf(config, credsFile, config.ports.sesf + 1, true);
    running.push(scanned);
    const antivirus = await roundTrip(nc, fromDisk, size);
    check(antivirus.back, sha256, size);
    console.log(`bench: sesf with ClamAV scanning in-stream: upload ${rate(size, antivirus.uploadMs)} MiB/s`);

    const result = {
      bytes: size,
      floor: { encryptMiBps: rate(size, floorRun.uploadMs), decryptMiBps: rate(size, floorRun.downloadMs) },
      sesf: {
        uploadMiBps: rate(size, direct.uploadMs),
        downloadMiBps: rate(size, direct.downloadMs),
        chunkedUploadMiBps: rate(size, chunked.uploadMs),
        uploadWithAntivirusMiBps: rate(size, antivirus.uploadMs),
      },
      ratios: {
        upload: Number((direct.uploadMs / floorRun.uploadMs).toFixed(2)),
        download: Number((direct.downloadMs / floorRun.downloadMs).toFixed(2)),
        chunkedUpload: Number((chunked.uploadMs / floorRun.uploadMs).toFixed(2)),
        uploadWithAntivirus: Number((antivirus.uploadMs / floorRun.uploadMs).toFixed(2)),
      },
      peakMemory: { transferBytes: largeSize, peakMiB: Math.round(peakLarge), beforeMiB: Math.round(baseline) },
      sourceOnDisk: statSync(source).size,
    };
    console.log(
      `bench: sesf / floor (time, lower is better): upload ${result.ratios.upload}×, download ${result.ratios.download}×, ` +
        `chunked upload ${result.ratios.chunkedUpload}×, upload with antivirus ${result.ratios.uploadWithAntivirus}×`,
    );
    saveResult(config, "sesf.json", result);
  } finally {
    for (const sesf of running) await sesf.stop().catch(() => undefined);
    await nc?.close();
    await down(config);
  }
}

await main();
