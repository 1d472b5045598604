import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { InvalidRequest, PayloadTooLarge } from "@mutualis/service-kit";
import { DecryptStream, EncryptStream, IntegrityError } from "./crypto.ts";

/** Counts the bytes going through and fails once there are more than allowed; hashes them too. */
export class Meter extends Transform {
  bytes = 0;
  readonly hash = createHash("sha256");
  constructor(
    private readonly limit: number,
    private readonly tooLarge = `a file may hold at most ${limit} bytes`,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return done(new PayloadTooLarge(this.tooLarge));
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/** Stored files are read a segment at a time (one read per 1 MiB segment, not sixteen). */
const readBytes = 1024 * 1024 + 64;

/** Where a share's files are, and the key and names they are encrypted with. */
export interface StoredShare {
  _id: string;
  collectivity: string;
}

/**
 * The shares' files on the shared volume, encrypted as they arrive, one directory per
 * collectivity and share: a file sent whole is one STREAM keyed by the file; a file sent in
 * chunks is kept as its chunks, each its own STREAM keyed by the file and the chunk, never
 * encrypted twice. Nothing here is ever written in clear.
 */
export class FileStore {
  constructor(private readonly root: string) {}

  dir(share: StoredShare): string {
    return join(this.root, share.collectivity, share._id);
  }

  private sessionDir(share: StoredShare, session: string): string {
    return join(this.dir(share), "sessions", session);
  }

  /**
   * Writes `source` (already measured and scanned by the caller's transforms) encrypted to a
   * partial file; `keep` decides, once the stream ended, whether the file is kept.
   */
  async write(share: StoredShare, fileId: string, dataKey: Buffer, source: (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[], keep: () => Promise<boolean>): Promise<void> {
    await mkdir(this.dir(share), { recursive: true, mode: 0o700 });
    const path = join(this.dir(share), fileId);
    try {
      await pipeline([...source, new EncryptStream(dataKey, fileId), createWriteStream(`${path}.partial`, { mode: 0o600 })]);
      if (await keep()) await rename(`${path}.partial`, path);
    } finally {
      await rm(`${path}.partial`, { force: true });
    }
  }

  /** Reads a chunked file's parts through `source` (measure, scan) without writing anything; keeps them if `keep` says so. */
  async adoptParts(share: StoredShare, session: string, fileId: string, source: (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[], keep: () => Promise<boolean>): Promise<void> {
    await pipeline([...source, new Writable({ write: (_chunk, _encoding, done) => done() })]);
    if (await keep()) await rename(this.sessionDir(share, session), join(this.dir(share), fileId));
  }

  /** Stores one chunk of a session, encrypted; answers its part name and its size. */
  async writeChunk(share: StoredShare, session: string, offset: number, dataKey: Buffer, body: Readable, room: number): Promise<{ part: string; bytes: number }> {
    const dir = this.sessionDir(share, session);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const part = `${offset}.${randomUUID()}`;
    const meter = new Meter(room, `a chunk may hold at most ${room} bytes here (the file's remaining bytes, and SESF_CHUNK_BYTES)`);
    try {
      await pipeline([body, meter, new EncryptStream(dataKey, `${session}:${part}`), createWriteStream(join(dir, `${part}.partial`), { mode: 0o600 })]);
      if (meter.bytes === 0) throw new InvalidRequest("a chunk must hold at least one byte");
      await rename(join(dir, `${part}.partial`), join(dir, part));
    } finally {
      await rm(join(dir, `${part}.partial`), { force: true });
    }
    return { part, bytes: meter.bytes };
  }

  async removeChunk(share: StoredShare, session: string, part: string): Promise<void> {
    await rm(join(this.sessionDir(share, session), part), { force: true });
  }

  /** The plaintext of a session's parts, in order, each decrypted and verified. */
  sessionPlaintext(share: StoredShare, session: string, parts: string[], dataKey: Buffer): Readable {
    return plaintextOfParts(this.sessionDir(share, session), parts, dataKey, session);
  }

  /** A session's chunks go; the sessions directory goes with its last session. */
  async removeSession(share: StoredShare, session: string): Promise<void> {
    await rm(this.sessionDir(share, session), { recursive: true, force: true });
    await rmdir(join(this.dir(share), "sessions")).catch(() => undefined);
  }

  async removeSessions(share: StoredShare): Promise<void> {
    await rm(join(this.dir(share), "sessions"), { recursive: true, force: true });
  }

  /** Everything of the share: its files cannot be read again. */
  async purge(share: StoredShare): Promise<void> {
    await rm(this.dir(share), { recursive: true, force: true });
  }

  /** A stored file's plaintext, decrypted and verified as it is read. */
  async plaintext(share: StoredShare, file: { id: string; parts?: string[] }, dataKey: Buffer): Promise<Readable> {
    const path = join(this.dir(share), file.id);
    await stat(path);
    return file.parts ? plaintextOfParts(path, file.parts, dataKey, file.id) : createReadStream(path, { highWaterMark: readBytes }).pipe(new DecryptStream(dataKey, file.id));
  }
}

/** The plaintext of a file kept as its chunks: each decrypted and verified in turn. */
function plaintextOfParts(dir: string, parts: string[], dataKey: Buffer, fileId: string): Readable {
  return Readable.from(
    (async function* () {
      for (const part of parts) {
        const source = createReadStream(join(dir, part), { highWaterMark: readBytes });
        try {
          yield* source.pipe(new DecryptStream(dataKey, `${fileId}:${part}`)) as AsyncIterable<Buffer>;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new IntegrityError("a part of the stored file is missing: the file was altered");
          throw error;
        }
      }
    })(),
  );
}
