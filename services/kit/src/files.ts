import { createHash } from "node:crypto";
import { DiscardPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { headers, nanos, nuid, type NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { Conflict, InvalidRequest, Unavailable } from "./errors.ts";

/** Chunks of 1 MiB: far below NATS's max_payload, large enough that a 150 MB file is 150 messages. */
export const chunkBytes = 1024 * 1024;

/** An object as JetStream's object store describes it: its chunks' id, size, chunk count and SHA-256. */
export interface StoredObject {
  readonly nuid: string;
  readonly size: number;
  readonly chunks: number;
  /** Hexadecimal. */
  readonly sha256: string;
}

/** Base64 with the URL's alphabet, padding kept: how the object store writes names and digests. */
const base64UrlPadded = (bytes: Buffer) => bytes.toString("base64").replaceAll("+", "-").replaceAll("/", "_");

/** The JetStream error the server gives when a stream is full (`discard: new`). */
const isStreamFull = (error: unknown) => /maximum (bytes|messages)|insufficient resources|resource limits exceeded/i.test(String((error as Error)?.message));

/**
 * Files in a bucket of JetStream's object store, written the way the store lays them out (chunks
 * on `$O.<bucket>.C.<nuid>`, the object's description on `$O.<bucket>.M.<name>`), so that the
 * `nats object` tools and any client of the object store read them. The chunks are written one
 * request at a time (a file uploaded in parts, possibly to several replicas of a service, or a
 * file handed over by another service), each deduplicated by its message id, and hashed with
 * node:crypto.
 */
export class ObjectFiles {
  readonly stream: string;
  private readonly js: JetStreamClient;

  private constructor(
    nc: NatsConnection,
    readonly bucket: string,
    private readonly jsm: JetStreamManager,
  ) {
    this.stream = `OBJ_${bucket}`;
    this.js = jetstream(nc);
  }

  /**
   * The bucket, its stream made or brought to this configuration: on disk, bounded by `maxBytes`
   * (a collectivity's account refuses streams without a maximum), refusing new chunks when full
   * rather than dropping old ones.
   */
  static async open(
    nc: NatsConnection,
    bucket: string,
    options: {
      readonly replicas?: number;
      readonly maxBytes: number;
      /** For a store of passing files only: how long a file is kept (by default, for good). */
      readonly maxAgeSeconds?: number;
    },
  ): Promise<ObjectFiles> {
    const jsm = await jetstreamManager(nc);
    const files = new ObjectFiles(nc, bucket, jsm);
    const config = {
      name: files.stream,
      subjects: [`$O.${bucket}.C.>`, `$O.${bucket}.M.>`],
      storage: StorageType.File,
      num_replicas: options.replicas ?? 1,
      max_bytes: options.maxBytes,
      discard: DiscardPolicy.New,
      allow_rollup_hdrs: true,
      allow_direct: true,
      duplicate_window: nanos(10 * 60 * 1000),
      ...(options.maxAgeSeconds ? { max_age: nanos(options.maxAgeSeconds * 1000) } : {}),
    };
    try {
      await jsm.streams.info(files.stream);
      await jsm.streams.update(files.stream, config);
    } catch {
      await jsm.streams.add(config);
    }
    return files;
  }

  /** A new object's chunk id. */
  static newId(): string {
    return nuid.next();
  }

  private chunkSubject(id: string): string {
    return `$O.${this.bucket}.C.${id}`;
  }

  /**
   * Appends chunk `index` of object `id`; `after`, the stream sequence of the chunk before it
   * (none for the first), so that a chunk is never stored out of order. The same chunk sent again
   * (a retried request) is stored once. Returns the chunk's stream sequence.
   */
  async appendChunk(id: string, index: number, bytes: Uint8Array, after?: number): Promise<number> {
    try {
      const ack = await this.js.publish(this.chunkSubject(id), bytes, {
        msgID: `${id}.${index}`,
        ...(after !== undefined ? { expect: { lastSubjectSequence: after } } : {}),
        timeout: 30_000,
      });
      return ack.seq;
    } catch (error) {
      if (isStreamFull(error)) throw new Conflict(`the file store ${this.bucket} is full: no file can be added until space is freed`);
      if (/wrong last sequence/i.test(String((error as Error).message))) throw new Conflict(`chunk ${index} of ${id} does not follow the chunk stored before it`);
      throw error;
    }
  }

  /** The object's chunks in order, read one at a time from the stream's leader. */
  async *read(id: string, chunks: number): AsyncGenerator<Uint8Array> {
    let seq = 0;
    for (let i = 0; i < chunks; i++) {
      // The server's MSG.GET takes `next_by_subj` with a starting sequence (the client's type knows only two forms).
      const message = await this.jsm.streams.getMessage(this.stream, { seq: seq + 1, next_by_subj: this.chunkSubject(id) } as never);
      if (!message) throw new InvalidRequest(`chunk ${i + 1} of ${chunks} of ${id} is missing from ${this.bucket}`);
      seq = message.seq;
      yield message.data;
    }
  }

  /** The object's size, chunk count and SHA-256, computed from what the stream holds; each chunk also given to `onChunk`. */
  async measure(id: string, chunks: number, onChunk?: (chunk: Uint8Array) => void): Promise<StoredObject> {
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of this.read(id, chunks)) {
      hash.update(chunk);
      size += chunk.length;
      onChunk?.(chunk);
    }
    return { nuid: id, size, chunks, sha256: hash.digest("hex") };
  }

  /** Stores a chunk `owner` (a collectivity) hands over, under an id of its own: it cannot name another's. */
  async takeChunk(owner: string, chunk: HandedChunk): Promise<{ sequence: number }> {
    return { sequence: await this.appendChunk(`${owner}-${chunk.upload}`, chunk.index, Buffer.from(chunk.contentBase64, "base64"), chunk.after) };
  }

  /**
   * The file `owner` handed over, measured again (each chunk given to `onChunk`) and described
   * under `name`; refused when it did not arrive whole or is not what was announced, and the
   * sender hands it over again.
   */
  async handedOver(owner: string, file: HandedFile, name: string, onChunk?: (chunk: Uint8Array) => void): Promise<StoredObject> {
    let measured: StoredObject;
    try {
      measured = await this.measure(`${owner}-${file.upload}`, file.chunks, onChunk);
    } catch (error) {
      throw new InvalidRequest(`${name} was not handed over whole: ${(error as Error).message}`);
    }
    if (measured.size !== file.size || measured.sha256 !== file.sha256) {
      throw new InvalidRequest(`${name} handed over is not the file announced (${measured.size} bytes, SHA-256 ${measured.sha256})`);
    }
    await this.describe(name, measured);
    return measured;
  }

  /**
   * Writes the object's description as the object store does (its name, chunks, size and
   * `SHA-256=` digest), replacing any earlier one of that name: from then on, object store
   * clients find it under `name`.
   */
  async describe(name: string, object: StoredObject): Promise<void> {
    const info = {
      name,
      bucket: this.bucket,
      nuid: object.nuid,
      size: object.size,
      chunks: object.chunks,
      mtime: new Date().toISOString(),
      digest: `SHA-256=${base64UrlPadded(Buffer.from(object.sha256, "hex"))}`,
      deleted: false,
      options: { max_chunk_size: chunkBytes },
    };
    const h = headers();
    h.set("Nats-Rollup", "sub");
    try {
      await this.js.publish(`$O.${this.bucket}.M.${base64UrlPadded(Buffer.from(name))}`, JSON.stringify(info), { headers: h, timeout: 30_000 });
    } catch (error) {
      if (isStreamFull(error)) throw new Conflict(`the file store ${this.bucket} is full: no file can be added until space is freed`);
      throw error;
    }
  }

  /** Stores a whole file held in memory under `name` (a signed document, a bundle): its chunks, then its description. */
  async put(name: string, bytes: Uint8Array): Promise<StoredObject> {
    const id = ObjectFiles.newId();
    let after: number | undefined;
    const stored = await sendInChunks((async function* () {
      yield bytes;
    })(), id, async (chunk, index) => {
      after = await this.appendChunk(id, index, chunk, after);
    });
    await this.describe(name, stored);
    return stored;
  }

  /** A stored file whole, in memory (a document of a few megabytes). */
  async readAll(object: Pick<StoredObject, "nuid" | "chunks">): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const chunk of this.read(object.nuid, object.chunks)) parts.push(chunk);
    return Buffer.concat(parts);
  }

  /** Removes an object's chunks (a failed or abandoned upload). */
  async discard(id: string): Promise<void> {
    await this.jsm.streams.purge(this.stream, { filter: this.chunkSubject(id) });
  }
}

/**
 * A file handed over to another service in chunks of at most 1 MiB (an archive to the
 * prefecture, an act to publish), each stored after the one before it, then named by the request
 * that follows: no message ever carries a whole file.
 */
const uploadId = z.string().regex(/^[A-Za-z0-9]{1,64}$/);

export const handedChunk = z.object({
  upload: uploadId,
  index: z.number().int().min(0),
  contentBase64: z.string().min(1).max(Math.ceil((chunkBytes * 4) / 3) + 4),
  /** The stream sequence of the chunk before it, as the receiver answered. */
  after: z.number().int().positive().optional(),
});

export type HandedChunk = z.infer<typeof handedChunk>;

/** What names a file handed over: its id, chunk count, size (at most `maxBytes`) and SHA-256. */
export const handedFile = (maxBytes: number) =>
  z.object({
    upload: uploadId,
    chunks: z.number().int().min(1).max(Math.ceil(maxBytes / chunkBytes)),
    size: z.number().int().positive().max(maxBytes),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  });

export type HandedFile = z.infer<ReturnType<typeof handedFile>>;

/**
 * Hands a stream over on `subject` (whose receiver calls `takeChunk`), as it comes, in chunks of
 * 1 MiB. A new id each time: an interrupted handover is started again whole.
 */
export async function handOver(nc: NatsConnection, subject: string, source: AsyncIterable<Uint8Array>): Promise<HandedFile> {
  const upload = ObjectFiles.newId();
  let after: number | undefined;
  const sent = await sendInChunks(source, upload, async (chunk, index) => {
    const reply = await nc.request(subject, JSON.stringify({ upload, index, contentBase64: chunk.toString("base64"), ...(after !== undefined ? { after } : {}) }), { timeout: 30_000 });
    if (reply.headers?.get("Nats-Service-Error-Code")) throw new Unavailable(`${subject} did not take the file: ${reply.headers.get("Nats-Service-Error") ?? "refused"}`);
    after = reply.json<{ sequence: number }>().sequence;
  });
  return { upload, chunks: sent.chunks, size: sent.size, sha256: sent.sha256 };
}

/**
 * Cuts a stream of bytes into chunks of exactly `chunkBytes` (the last one shorter) and gives each
 * to `send`, in order, one at a time; returns what was sent, measured and hashed on the way.
 */
export async function sendInChunks(source: AsyncIterable<Uint8Array>, id: string, send: (chunk: Buffer, index: number) => Promise<void>): Promise<StoredObject> {
  const hash = createHash("sha256");
  // The parts not yet sent, joined only when they make a chunk: a gzip stream gives 16 KiB at a time.
  let parts: Buffer[] = [];
  let pendingBytes = 0;
  let chunks = 0;
  let size = 0;
  const flush = async (all: boolean) => {
    while (pendingBytes >= chunkBytes || (all && pendingBytes > 0)) {
      const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      const chunk = joined.subarray(0, chunkBytes);
      parts = chunk.length < joined.length ? [joined.subarray(chunk.length)] : [];
      pendingBytes = joined.length - chunk.length;
      hash.update(chunk);
      await send(chunk, chunks);
      chunks++;
      size += chunk.length;
    }
  };
  for await (const part of source) {
    parts.push(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
    pendingBytes += part.byteLength;
    await flush(false);
  }
  await flush(true);
  return { nuid: id, size, chunks, sha256: hash.digest("hex") };
}
