import { randomUUID } from "node:crypto";
import { Conflict, InvalidRequest, isDuplicateKey, type Database } from "@mutualis/service-kit";
import type { Limits } from "./settings.ts";
import type { Clock } from "./share-state.ts";

/** What the share holds of one file: its name, size, hash and scan, never its bytes. */
export interface ShareFile {
  id: string;
  name: string;
  size: number;
  sha256: string;
  uploadedAt: Date;
  /** What ClamAV said; only a clean (or, without an antivirus, unscanned) file is ever served. */
  scan: "clean" | "infected" | "unscanned";
  signature?: string;
  /**
   * A file sent in chunks is kept as its encrypted chunks, in order, in a directory named by its
   * id (each chunk its own STREAM, keyed by the file and the chunk): never encrypted twice.
   */
  parts?: string[];
}

/** A chunked upload in progress: the file arrives in parts, each stored encrypted as it comes. */
export interface UploadSession {
  _id: string;
  shareId: string;
  name: string;
  size: number;
  /** Bytes received so far: the next chunk must start here. */
  offset: number;
  /** Parts of sessions made before parts had a collection of their own. */
  parts?: Part[];
  createdAt: Date;
  /** The last chunk's time: a session idle too long is abandoned, and what it reserved freed. */
  updatedAt?: Date;
  /** What it reserved on the share (absent for sessions made before reservations). */
  reservation?: Reservation;
}

export interface Part {
  offset: number;
  bytes: number;
  file: string;
}

/** A file slot and an upload in progress, held on a share until the upload ends. */
export interface Reservation {
  slot: string;
  open: string;
}

/** One of a share's file slots: reserved by an upload, then holding the file it kept. */
interface FileSlot {
  _id: string;
  shareId: string;
  reservedAt: Date;
  file?: ShareFile;
}

/** One of a share's uploads in progress, and the bytes it may write. */
interface OpenUpload {
  _id: string;
  shareId: string;
  bytes: number;
  at: Date;
}

interface StoredPart extends Part {
  _id: string;
  sessionId: string;
}


/**
 * What an upload link may hold at once on the shared volume, and what it kept. Every limit is
 * held by inserting a document under a numbered id (a share's n-th file slot, its j-th upload
 * in progress): the database's unique key lets exactly one insert have each number, so parallel
 * uploads can never pass a limit. Updates are never relied on for this: FerretDB rewrites a
 * whole document from what it read, so two updates of one document at once lose one of them.
 */
export class UploadReservations {
  private readonly slots;
  private readonly opens;
  readonly sessions;
  private readonly parts;

  constructor(
    database: Database,
    private readonly clock: Clock,
  ) {
    this.slots = database.collection<FileSlot>("file_slots");
    this.opens = database.collection<OpenUpload>("open_uploads");
    this.sessions = database.collection<UploadSession>("upload_sessions");
    this.parts = database.collection<StoredPart>("session_parts");
  }

  /** Takes the first free number below `limit` (from `from`), or undefined when all are taken. */
  private async claim<T extends { _id: string }>(collection: { insertOne(doc: never): Promise<unknown> }, shareId: string, from: number, limit: number, fields: Omit<T, "_id">): Promise<string | undefined> {
    for (let n = from; n < limit; n++) {
      const id = `${shareId}:${n}`;
      try {
        await collection.insertOne({ _id: id, ...fields } as never);
        return id;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
    }
    return undefined;
  }

  /**
   * Reserves a file slot and an upload in progress of `bytes` on the share, or says which limit
   * refuses it. `kept` is the number of files the share held before slots (they count too).
   */
  async reserve(shareId: string, limits: Limits, bytes: number, kept = 0): Promise<Reservation> {
    const now = this.clock();
    const slot = await this.claim<FileSlot>(this.slots, shareId, kept, limits.filesPerShare, { shareId, reservedAt: now });
    if (!slot) throw new InvalidRequest(`a share may hold at most ${limits.filesPerShare} files for this collectivity`);
    const open = await this.claim<OpenUpload>(this.opens, shareId, 0, limits.openUploads, { shareId, bytes, at: now });
    if (!open) {
      await this.slots.deleteOne({ _id: slot });
      throw new Conflict(`at most ${limits.openUploads} uploads may be in progress at once on a share: finish one, or let it lapse, first`);
    }
    // Counted once this upload is in: two reserving at once both see each other, and both
    // refuse if together they pass the limit (never both pass).
    const reserved = (await this.opens.find({ shareId }).toArray()).reduce((sum, o) => sum + o.bytes, 0);
    if (reserved > limits.reservedBytes) {
      await this.release({ slot, open }, false);
      throw new Conflict(`the uploads in progress on this share already reserve ${reserved - bytes} of its ${limits.reservedBytes} bytes: finish one first`);
    }
    return { slot, open };
  }

  /** The file an upload kept, in its slot (one writer per slot). */
  async keep(reservation: Reservation, file: ShareFile): Promise<void> {
    await this.slots.updateOne({ _id: reservation.slot }, { $set: { file } });
  }

  /** An upload ended: its bytes are freed, and its slot too unless a file was kept in it. Idempotent. */
  async release(reservation: Reservation, keptFile: boolean): Promise<void> {
    await this.opens.deleteOne({ _id: reservation.open });
    if (!keptFile) await this.slots.deleteOne({ _id: reservation.slot });
  }

  /** The files the share kept, in the order they arrived. */
  async files(shareId: string): Promise<ShareFile[]> {
    const slots = await this.slots.find({ shareId, file: { $exists: true } }).toArray();
    return slots.map((s) => s.file!).sort((a, b) => a.uploadedAt.getTime() - b.uploadedAt.getTime());
  }

  /** Uploads in progress on the share, and the bytes they reserve. */
  async inProgress(shareId: string): Promise<{ uploads: number; bytes: number; slots: number }> {
    const opens = await this.opens.find({ shareId }).toArray();
    return { uploads: opens.length, bytes: opens.reduce((sum, o) => sum + o.bytes, 0), slots: await this.slots.countDocuments({ shareId }) };
  }

  async startSession(shareId: string, name: string, size: number, reservation: Reservation): Promise<UploadSession> {
    const now = this.clock();
    const session: UploadSession = { _id: randomUUID(), shareId, name, size, offset: 0, createdAt: now, updatedAt: now, reservation };
    await this.sessions.insertOne(session);
    return session;
  }

  /**
   * Records a chunk at `offset`: the first chunk stored for an offset is the one kept (its id is
   * the session and the offset), so two sent at once cannot both be. False when another won.
   */
  async addPart(session: UploadSession, part: Part): Promise<boolean> {
    try {
      await this.parts.insertOne({ _id: `${session._id}:${part.offset}`, sessionId: session._id, ...part });
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
    await this.sessions.updateOne({ _id: session._id }, { $set: { offset: part.offset + part.bytes, updatedAt: this.clock() } });
    return true;
  }

  /** A session's parts, in order. */
  async partsOf(session: UploadSession): Promise<Part[]> {
    const stored = await this.parts.find({ sessionId: session._id }).toArray();
    return [...(session.parts ?? []), ...stored.map(({ offset, bytes, file }) => ({ offset, bytes, file }))].sort((a, b) => a.offset - b.offset);
  }

  /** Ends a session: it goes with its parts, and what it reserved is freed. Idempotent. */
  async end(session: UploadSession, keptFile: boolean): Promise<void> {
    await this.sessions.deleteOne({ _id: session._id });
    await this.parts.deleteMany({ sessionId: session._id });
    if (session.reservation) await this.release(session.reservation, keptFile);
  }

  /** Sessions without a chunk since `before`. */
  idleSince(before: Date): Promise<UploadSession[]> {
    return this.sessions.find({ $or: [{ updatedAt: { $lt: before } }, { updatedAt: { $exists: false }, createdAt: { $lt: before } }] }).toArray();
  }

  /** Everything in progress on a share that ended. */
  async dropShare(shareId: string): Promise<void> {
    const sessions = await this.sessions.find({ shareId }).toArray();
    for (const session of sessions) await this.parts.deleteMany({ sessionId: session._id });
    await this.sessions.deleteMany({ shareId });
    await this.opens.deleteMany({ shareId });
  }
}
