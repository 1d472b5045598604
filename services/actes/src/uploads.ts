import { randomUUID } from "node:crypto";
import { Binary } from "mongodb";
import { chunkBytes, Conflict, Forbidden, InvalidRequest, NotFound, ObjectFiles, PayloadTooLarge, Repository, type Caller, type Database, type StoredObject } from "@mutualis/service-kit";
import { z } from "zod";
import { maxArchiveBytes } from "./domain/act.ts";

/** The first bytes of an upload, kept to tell a PDF from an XML file without reading it all. */
const headBytes = 64;

/**
 * A file uploaded in parts, for an act whose files are too large for one message: its chunks go
 * to the object store as they come; its record says who uploaded it, what they announced and how
 * far it got.
 */
export interface Upload {
  _id: string;
  collectivity: string;
  /** Who uploaded it: only they may add to it or attach it to an act. */
  owner: string;
  fileName: string;
  mimeType: "application/pdf" | "application/xml";
  /** What the uploader announced; the file is accepted only if what arrived matches. */
  size: number;
  sha256: string;
  /** The object's chunks in the object store. */
  nuid: string;
  chunks: number;
  received: number;
  /** The stream sequence of the last chunk stored, so the next one is stored after it and nowhere else. */
  lastSequence?: number;
  head?: Binary;
  state: "receiving" | "complete" | "attached";
  actId?: string;
  createdAt: Date;
}

/** What an upload's owner sees of it. */
export function uploadView(upload: Upload) {
  return {
    id: upload._id,
    fileName: upload.fileName,
    mimeType: upload.mimeType,
    size: upload.size,
    sha256: upload.sha256,
    received: upload.received,
    chunks: upload.chunks,
    chunkBytes,
    state: upload.state,
    ...(upload.actId ? { actId: upload.actId } : {}),
  };
}

export const uploadStart = z.object({
  fileName: z.string().min(1).max(255),
  mimeType: z.enum(["application/pdf", "application/xml"]),
  size: z.number().int().positive().max(maxArchiveBytes, `a file may not exceed the 150 MB @ctes allows an act`),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be the file's SHA-256, in lowercase hexadecimal"),
});

export const uploadChunk = z.object({
  id: z.uuid(),
  index: z.number().int().min(0),
  contentBase64: z.string().min(1).max(Math.ceil((chunkBytes * 4) / 3) + 4, `a chunk is at most ${chunkBytes} bytes`),
});

/** Who the caller is, as an upload records its owner. */
export const ownerOf = (caller: Caller) => (caller.kind === "user" ? `user:${caller.subject}` : `client:${caller.client}`);

export class UploadRepository extends Repository<Upload> {
  constructor(database: Database) {
    super(database, "uploads");
  }

  async create(upload: Upload): Promise<Upload> {
    await this.collection.insertOne(upload);
    return upload;
  }

  /** The collectivity's upload: another collectivity's is not found, whoever asks. */
  async get(collectivity: string, id: string): Promise<Upload> {
    const upload = await this.collection.findOne({ _id: id, collectivity });
    if (!upload) throw new NotFound(`no upload ${id}`);
    return upload;
  }

  /** Records chunk `index` once: false when another request recorded it first. */
  async recordChunk(upload: Upload, index: number, bytes: Uint8Array, sequence: number): Promise<boolean> {
    const result = await this.collection.updateOne(
      { _id: upload._id, state: "receiving", chunks: index },
      {
        $set: { chunks: index + 1, lastSequence: sequence, ...(index === 0 ? { head: new Binary(bytes.subarray(0, headBytes)) } : {}) },
        $inc: { received: bytes.length },
      },
    );
    return result.modifiedCount === 1;
  }

  async complete(upload: Upload): Promise<Upload> {
    const done = await this.collection.findOneAndUpdate({ _id: upload._id, state: "receiving" }, { $set: { state: "complete" } }, { returnDocument: "after" });
    return done ?? this.get(upload.collectivity, upload._id);
  }

  async remove(upload: Upload): Promise<void> {
    await this.collection.deleteOne({ _id: upload._id, state: "receiving" });
  }

  /** Attaches complete uploads to an act, each to one act only; false when one was taken meanwhile. */
  async attach(uploads: readonly Upload[], actId: string): Promise<boolean> {
    for (const upload of uploads) {
      const result = await this.collection.updateOne({ _id: upload._id, state: "complete" }, { $set: { state: "attached", actId } });
      if (result.modifiedCount !== 1) return false;
    }
    return true;
  }

  /** Gives back the uploads of an act that was not stored after all. */
  async detach(actId: string): Promise<void> {
    await this.collection.updateMany({ actId, state: "attached" }, { $set: { state: "complete" }, $unset: { actId: "" } });
  }
}

/**
 * Files uploaded in parts to the object store: announced (name, type, size and SHA-256), sent in
 * chunks of at most 1 MiB in order, then finished, when what the store holds is measured again
 * and must match what was announced. A file so received can then be named by an act instead of
 * its bytes.
 */
export class Uploads {
  constructor(
    private readonly repository: UploadRepository,
    private readonly files: ObjectFiles,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async start(collectivity: string, caller: Caller, request: z.infer<typeof uploadStart>): Promise<Upload> {
    return this.repository.create({
      _id: randomUUID(),
      collectivity,
      owner: ownerOf(caller),
      ...request,
      nuid: ObjectFiles.newId(),
      chunks: 0,
      received: 0,
      state: "receiving",
      createdAt: this.now(),
    });
  }

  /** The caller's upload of the collectivity; someone else's is refused. */
  async owned(collectivity: string, caller: Caller, id: string): Promise<Upload> {
    const upload = await this.repository.get(collectivity, id);
    if (upload.owner !== ownerOf(caller)) throw new Forbidden(`upload ${id} is someone else's`);
    return upload;
  }

  /**
   * Stores chunk `index`: the next one expected, or the last one again (a retried request, which
   * changes nothing). Anything else, or more bytes than announced, is refused.
   */
  async chunk(collectivity: string, caller: Caller, request: z.infer<typeof uploadChunk>): Promise<Upload> {
    const upload = await this.owned(collectivity, caller, request.id);
    if (upload.state !== "receiving") throw new Conflict(`upload ${upload._id} is finished`);
    if (request.index < upload.chunks) return upload;
    if (request.index > upload.chunks) throw new Conflict(`upload ${upload._id} expects chunk ${upload.chunks}, not ${request.index}`);
    const bytes = Buffer.from(request.contentBase64, "base64");
    if (bytes.length > chunkBytes) throw new PayloadTooLarge(`a chunk is at most ${chunkBytes} bytes`);
    if (upload.received + bytes.length > upload.size) throw new InvalidRequest(`upload ${upload._id} would exceed the ${upload.size} bytes announced`);
    const sequence = await this.files.appendChunk(upload.nuid, request.index, bytes, upload.lastSequence);
    await this.repository.recordChunk(upload, request.index, bytes, sequence);
    return this.repository.get(collectivity, upload._id);
  }

  /**
   * Measures what the store holds: when it is the size and SHA-256 announced, the file is
   * complete and described in the object store under the collectivity's name for it; otherwise
   * its chunks are discarded and the upload forgotten, with the reason.
   */
  async finish(collectivity: string, caller: Caller, id: string): Promise<Upload> {
    const upload = await this.owned(collectivity, caller, id);
    if (upload.state !== "receiving") return upload;
    if (upload.received !== upload.size) throw new Conflict(`upload ${upload._id} has ${upload.received} of its ${upload.size} bytes`);
    const stored = await this.files.measure(upload.nuid, upload.chunks);
    if (stored.size !== upload.size || stored.sha256 !== upload.sha256) {
      await this.files.discard(upload.nuid);
      await this.repository.remove(upload);
      throw new InvalidRequest(`upload ${upload._id} is not the file announced: its SHA-256 is ${stored.sha256}, not ${upload.sha256}; it was discarded`);
    }
    await this.files.describe(`${collectivity}/uploads/${upload._id}`, stored);
    return this.repository.complete(upload);
  }

  /** The complete uploads an act names, the caller's, in the order named. */
  async forAct(collectivity: string, caller: Caller, ids: readonly string[]): Promise<Upload[]> {
    const uploads = await Promise.all(ids.map((id) => this.owned(collectivity, caller, id)));
    const waiting = uploads.find((u) => u.state !== "complete");
    if (waiting) throw new Conflict(waiting.state === "attached" ? `upload ${waiting._id} is already a file of act ${waiting.actId}` : `upload ${waiting._id} is not finished`);
    return uploads;
  }

  /**
   * Gives the uploads to the act about to be stored, then stores it with `store`: an upload goes
   * to one act only, and comes back if the act is not stored.
   */
  async attachTo<T>(uploads: readonly Upload[], actId: string, store: (actId: string) => Promise<T>): Promise<T> {
    if (uploads.length === 0) return store(actId);
    if (!(await this.repository.attach(uploads, actId))) {
      await this.repository.detach(actId);
      throw new Conflict("an upload was attached to another act meanwhile");
    }
    try {
      return await store(actId);
    } catch (error) {
      await this.repository.detach(actId);
      throw error;
    }
  }

  /** The object of a complete upload, as the act's document record keeps it. */
  static objectOf(upload: Upload): StoredObject {
    return { nuid: upload.nuid, size: upload.size, chunks: upload.chunks, sha256: upload.sha256 };
  }
}
