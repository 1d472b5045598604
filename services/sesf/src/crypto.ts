import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

/** Plaintext bytes per encrypted segment. */
export const segmentBytes = 1024 * 1024;
const tagBytes = 16;
const headerBytes = 4;

/** The stored file does not verify: it was altered or truncated. Never served. */
export class IntegrityError extends Error {
  override name = "IntegrityError";
}

/** A collectivity's key-encryption key, derived from the platform's master key: never stored. */
export function tenantKey(master: Buffer, collectivity: string): Buffer {
  return Buffer.from(hkdfSync("sha256", master, "mutualis-sesf", `tenant:${collectivity}`, 32));
}

/** Wraps a share's data key with the collectivity's key (AES-256-GCM): iv ‖ tag ‖ ciphertext, base64. */
export function wrapKey(kek: Buffer, dataKey: Buffer, shareId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", kek, iv).setAAD(Buffer.from(`share:${shareId}`));
  const sealed = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString("base64");
}

export function unwrapKey(kek: Buffer, wrapped: string, shareId: string): Buffer {
  const raw = Buffer.from(wrapped, "base64");
  const decipher = createDecipheriv("aes-256-gcm", kek, raw.subarray(0, 12)).setAAD(Buffer.from(`share:${shareId}`));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
  } catch {
    throw new IntegrityError("the share's key does not unwrap: it was altered or belongs to another collectivity");
  }
}

/** One key per file, from the share's data key: the segment counter then never repeats a nonce. */
function fileKey(dataKey: Buffer, fileId: string): Buffer {
  return Buffer.from(hkdfSync("sha256", dataKey, "mutualis-sesf-file", fileId, 32));
}

/** Nonce of segment n: its counter (11 bytes) and whether it is the last (1 byte). */
function nonce(index: number, last: boolean): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUIntBE(index, 5, 6);
  iv[11] = last ? 1 : 0;
  return iv;
}

/**
 * Encrypts a stream in segments (AES-256-GCM, the STREAM construction): each segment is its
 * length, its ciphertext and its tag; the nonce carries its index and whether it is the last, so
 * reordering, truncation and appending are detected as surely as altered bytes. Memory use is
 * one segment, whatever the file's size.
 */
export class EncryptStream extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;
  private readonly key: Buffer;

  constructor(dataKey: Buffer, fileId: string) {
    super();
    this.key = fileKey(dataKey, fileId);
  }

  private seal(plain: Buffer, last: boolean): void {
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce(this.index++, last));
    const sealed = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    const header = Buffer.alloc(headerBytes);
    header.writeUInt32BE(sealed.length);
    this.push(header);
    this.push(sealed);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Keep at least one byte back: the last segment is sealed as last in _flush.
    while (this.pendingBytes > segmentBytes) {
      const all = Buffer.concat(this.pending);
      this.seal(all.subarray(0, segmentBytes), false);
      const rest = all.subarray(segmentBytes);
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.seal(Buffer.concat(this.pending), true);
    done();
  }
}

/**
 * Decrypts what EncryptStream wrote. A segment is released only once it verifies; one sealed
 * segment is held back until the next one arrives, since only the end of the stream says which
 * segment is the last. Any alteration, reordering or truncation fails with IntegrityError.
 */
export class DecryptStream extends Transform {
  /** Bytes received and not yet made into segments, kept as received: each is copied once. */
  private chunks: Buffer[] = [];
  private size = 0;
  private held: Buffer | undefined;
  private index = 0;
  private readonly key: Buffer;

  constructor(dataKey: Buffer, fileId: string) {
    super();
    this.key = fileKey(dataKey, fileId);
  }

  private open(sealed: Buffer, last: boolean): Buffer {
    if (sealed.length < tagBytes) throw new IntegrityError(`segment ${this.index} is too short: the file was altered`);
    const decipher = createDecipheriv("aes-256-gcm", this.key, nonce(this.index, last));
    decipher.setAuthTag(sealed.subarray(sealed.length - tagBytes));
    try {
      const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - tagBytes)), decipher.final()]);
      this.index++;
      return plain;
    } catch {
      throw new IntegrityError(last ? "the file's last segment does not verify: the file was altered or truncated" : `segment ${this.index} does not verify: the file was altered`);
    }
  }

  /** The first `n` bytes received, removed from what is kept. */
  private consume(n: number): Buffer {
    const first = this.chunks[0]!;
    let taken: Buffer;
    if (first.length >= n) {
      taken = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      taken = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.size -= n;
    return taken;
  }

  /** The segment length in the next header, without taking it. */
  private nextLength(): number {
    const first = this.chunks[0]!;
    return (first.length >= headerBytes ? first : Buffer.concat(this.chunks, headerBytes)).readUInt32BE(0);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.chunks.push(chunk);
      this.size += chunk.length;
      while (this.size >= headerBytes) {
        const length = this.nextLength();
        if (length > segmentBytes + tagBytes) throw new IntegrityError(`segment ${this.index} has an impossible length: the file was altered`);
        if (this.size < headerBytes + length) break;
        if (this.held) this.push(this.open(this.held, false));
        this.consume(headerBytes);
        this.held = this.consume(length);
      }
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.size > 0 || !this.held) throw new IntegrityError("the file is truncated");
      this.push(this.open(this.held, true));
      done();
    } catch (error) {
      done(error as Error);
    }
  }
}
