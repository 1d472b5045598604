import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Conflict, Forbidden, Gone, InvalidRequest, NotFound, PayloadTooLarge, Repository, Unavailable, type BusinessEvents, type Database, type ServiceMetrics } from "@mutualis/service-kit";
import type { ShareOwner } from "./access.ts";
import { ClamdScan, type ScanResult } from "./antivirus.ts";
import { chain, verifyChain, type AuditEntry } from "./audit.ts";
import { DecryptStream, EncryptStream, hashPassword, IntegrityError, tenantKey, unwrapKey, verifyPassword, wrapKey } from "./crypto.ts";
import { safeFileName } from "./names.ts";
import type { Limits, SesfSettings } from "./settings.ts";

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

export interface Recipient {
  email: string;
  name?: string;
  /** SHA-256 of the link's token: the token itself is given once and never stored. */
  tokenHash: string;
  revoked: boolean;
}

export type ShareState = "open" | "revoked" | "expired" | "exhausted";

export interface Share {
  _id: string;
  collectivity: string;
  /** Who made it: they manage it, with the collectivity's administrators. */
  owner?: ShareOwner;
  description: string;
  createdAt: Date;
  expiresAt: Date;
  downloadLimit?: number;
  passwordHash?: string;
  /** The share's data key, wrapped by the collectivity's key; removed when the content is purged. */
  wrappedKey?: string;
  uploadTokenHash: string;
  /** The upload link was closed by its holder ("I am done"): it works once, as a voucher must. */
  uploadsClosedAt?: Date;
  /** A guest voucher: the outside person invited to upload, to the agent (the recipient). */
  guest?: { email: string; name?: string };
  /** A voucher's upload window; once the guest is done, the content stays `keepDays` more. */
  uploadUntil?: Date;
  keepDays?: number;
  state: ShareState;
  purgedAt?: Date;
  files: ShareFile[];
  recipients: Recipient[];
}

interface Download {
  _id: string;
  shareId: string;
  email: string;
  fileId: string;
  /** Downloads started, counted before the first byte: those refused over the limit too. */
  count: number;
  /** Downloads that sent the whole file. */
  completed?: number;
}

/** A chunked upload in progress: the file arrives in parts, each stored encrypted as it comes. */
export interface UploadSession {
  _id: string;
  shareId: string;
  name: string;
  size: number;
  /** Bytes received so far: the next chunk must start here. */
  offset: number;
  parts: { offset: number; bytes: number; file: string }[];
  createdAt: Date;
}

export interface NewVoucher {
  id?: string;
  description?: string;
  /** The agent who invites: the one recipient of what the guest uploads. */
  agent: { email: string; name?: string };
  guest: { email: string; name?: string };
  /** Days the guest has to upload. */
  voucherDays?: number;
  /** Days the content stays once the guest is done. */
  expiryDays?: number;
}

export interface NewShare {
  /** Chosen by the caller (the SecureShare's uid) so that asking twice cannot make two shares. */
  id?: string;
  description?: string;
  recipients: { email: string; name?: string }[];
  expiryDays?: number;
  downloadLimit?: number;
  password?: string;
}

/** An upload the antivirus found infected: refused, as a request the caller must change. */
export class Infected extends InvalidRequest {
  override name = "Infected";
}

/** What one may say about a link that does not open: the same whatever the reason. */
const closed = "this link is not valid, or the password is wrong";

/** Who acted, as the audit names them: the person's address, or the platform's software. */
const whoIs = (owner: ShareOwner) => owner.email ?? owner.client ?? "";

const token = () => randomBytes(32).toString("base64url");
const digest = (value: string) => createHash("sha256").update(value).digest("hex");

/** A chunk that does not start where the upload stands: 409, saying where it stands. */
export class OffsetMismatch extends Conflict {
  override name = "OffsetMismatch";
  constructor(readonly offset: number) {
    super(`this upload stands at ${offset} bytes: send the chunk that starts there`);
  }
}

/** Counts the bytes going through and fails once there are more than allowed; hashes them too. */
class Meter extends Transform {
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

/**
 * Shares of the collectivities: created over NATS by agents, filled over HTTP with an upload
 * link (in one request, or in chunks that survive a broken connection), downloaded by
 * recipients with their own links. Contents are encrypted at rest with one key per share,
 * wrapped by the collectivity's key; every step is in the share's audit chain.
 */
export class Shares extends Repository<Share> {
  private readonly audit;
  private readonly downloads;
  private readonly sessions;
  private readonly master: Buffer;

  constructor(
    database: Database,
    private readonly settings: SesfSettings,
    master: Buffer,
    private readonly metrics: ServiceMetrics,
    private readonly events: BusinessEvents,
    /** The collectivity's limits, read when they apply (they may change). */
    private readonly limitsOf: (collectivity: string) => Promise<Limits>,
  ) {
    super(database, "shares");
    this.audit = database.collection<AuditEntry & { _id: string; collectivity: string }>("audit");
    this.downloads = database.collection<Download>("downloads");
    this.sessions = database.collection<UploadSession>("upload_sessions");
    this.master = master;
  }

  private dir(share: Pick<Share, "_id" | "collectivity">): string {
    return join(this.settings.SESF_STORAGE_DIR, share.collectivity, share._id);
  }

  private async record(share: Pick<Share, "_id" | "collectivity">, event: AuditEntry["event"], detail: AuditEntry["detail"] = {}): Promise<void> {
    const last = await this.audit.find({ shareId: share._id }).sort({ seq: -1 }).limit(1).next();
    const entry = chain(last ?? undefined, { shareId: share._id, at: new Date().toISOString(), event, detail });
    await this.audit.insertOne({ ...entry, _id: `${share._id}:${entry.seq}`, collectivity: share.collectivity });
  }

  private links(recipients: { email: string }[], tokens: string[]) {
    return recipients.map((r, i) => ({ email: r.email, url: `${this.settings.SESF_PUBLIC_URL}/api/v1/links/${tokens[i]}` }));
  }

  private checkDays(days: number, limits: Limits, what: string): void {
    if (days > limits.maxExpiryDays) throw new InvalidRequest(`${what} after at most ${limits.maxExpiryDays} days for this collectivity`);
  }

  private checkRecipients(count: number, limits: Limits): void {
    if (count > limits.recipients) throw new InvalidRequest(`a share may have at most ${limits.recipients} recipients for this collectivity`);
  }

  /** The share's record, once its id is known not to be taken (asking twice cannot make two). */
  private async draft(collectivity: string, id: string | undefined, recipients: { email: string; name?: string }[], days: number): Promise<{ share: Share; tokens: string[]; upload: string }> {
    const emails = recipients.map((r) => r.email.toLowerCase());
    if (new Set(emails).size !== emails.length) throw new InvalidRequest("each recipient may appear once");
    const shareId = id ?? randomUUID();
    if (id && (await this.collection.findOne({ _id: shareId }))) throw new Conflict(`share ${shareId} exists already`);
    const tokens = recipients.map(() => token());
    const upload = token();
    const now = new Date();
    const share: Share = {
      _id: shareId,
      collectivity,
      description: "",
      createdAt: now,
      expiresAt: new Date(now.getTime() + days * 86_400_000),
      wrappedKey: wrapKey(tenantKey(this.master, collectivity), randomBytes(32), shareId),
      uploadTokenHash: digest(upload),
      state: "open",
      files: [],
      recipients: recipients.map((r, i) => ({ email: r.email.toLowerCase(), ...(r.name ? { name: r.name } : {}), tokenHash: digest(tokens[i]!), revoked: false })),
    };
    return { share, tokens, upload };
  }

  async create(collectivity: string, request: NewShare, owner: ShareOwner) {
    const limits = await this.limitsOf(collectivity);
    this.checkRecipients(request.recipients.length, limits);
    const days = request.expiryDays ?? limits.defaultExpiryDays;
    this.checkDays(days, limits, "a share expires");
    const { share, tokens, upload } = await this.draft(collectivity, request.id, request.recipients, days);
    share.description = request.description ?? "";
    share.owner = owner;
    if (request.downloadLimit) share.downloadLimit = request.downloadLimit;
    if (request.password) share.passwordHash = await hashPassword(request.password);
    await this.collection.insertOne(share);
    await this.record(share, "created", { by: whoIs(owner), recipients: share.recipients.length, expiresAt: share.expiresAt.toISOString(), password: share.passwordHash ? "yes" : "no" });
    this.metrics.businessCounter("mutualis_sesf_shares_created_total", "Shares created, per collectivity.").inc({ collectivity });
    this.events.record(collectivity, "share_created", share._id, 1, share.createdAt);
    return { id: share._id, expiresAt: share.expiresAt.toISOString(), uploadUrl: `${this.settings.SESF_PUBLIC_URL}/api/v1/uploads/${upload}`, links: this.links(request.recipients, tokens) };
  }

  /**
   * A guest voucher: an agent invites an outside person (a company, a citizen) to upload files
   * to them. The voucher is the upload link: it works until the guest says they are done, once,
   * or until it expires; the agent downloads with their own link, as any recipient.
   */
  async createVoucher(collectivity: string, request: NewVoucher, owner: ShareOwner) {
    const limits = await this.limitsOf(collectivity);
    const voucherDays = request.voucherDays ?? limits.defaultExpiryDays;
    const keepDays = request.expiryDays ?? limits.defaultExpiryDays;
    this.checkDays(voucherDays, limits, "a voucher expires");
    this.checkDays(keepDays, limits, "a share expires");
    const { share, tokens, upload } = await this.draft(collectivity, request.id, [request.agent], voucherDays);
    share.description = request.description ?? "";
    share.owner = owner;
    share.guest = { email: request.guest.email.toLowerCase(), ...(request.guest.name ? { name: request.guest.name } : {}) };
    share.uploadUntil = share.expiresAt;
    share.keepDays = keepDays;
    await this.collection.insertOne(share);
    await this.record(share, "voucher-created", { by: whoIs(owner), guest: share.guest.email, agent: share.recipients[0]!.email, uploadUntil: share.uploadUntil.toISOString() });
    this.metrics.businessCounter("mutualis_sesf_vouchers_created_total", "Guest vouchers created, per collectivity.").inc({ collectivity });
    this.events.record(collectivity, "voucher_created", share._id, 1, share.createdAt);
    return {
      id: share._id,
      uploadUntil: share.uploadUntil.toISOString(),
      voucherUrl: `${this.settings.SESF_PUBLIC_URL}/api/v1/uploads/${upload}`,
      links: this.links([request.agent], tokens),
    };
  }

  /** A collectivity's share; another collectivity's is not found, as if it did not exist. */
  async get(collectivity: string, id: string): Promise<Share> {
    const share = await this.collection.findOne({ _id: id, collectivity });
    if (!share) throw new NotFound(`no share ${id}`);
    return this.current(share);
  }

  /** A collectivity's shares, narrowed by `filter` (the caller's own, see access.ts). */
  list(collectivity: string, filter: Record<string, string> = {}): Promise<Share[]> {
    return this.collection.find({ ...filter, collectivity }).sort({ createdAt: -1 }).toArray();
  }

  /** Per recipient: downloads completed, and attempts (started, refused over the limit included). */
  async downloadsOf(share: Share): Promise<{ recipient: string; count: number; attempts: number }[]> {
    const rows = await this.downloads.find({ shareId: share._id }).toArray();
    return share.recipients.map((r) => {
      const own = rows.filter((d) => d.email === r.email);
      return { recipient: r.email, count: own.reduce((sum, d) => sum + (d.completed ?? 0), 0), attempts: own.reduce((sum, d) => sum + d.count, 0) };
    });
  }

  /** An open share past its expiry is expired and purged as soon as anyone looks at it. */
  private async current(share: Share): Promise<Share> {
    if (share.state === "open" && share.expiresAt.getTime() <= Date.now()) {
      await this.close(share, "expired");
      return (await this.collection.findOne({ _id: share._id }))!;
    }
    return share;
  }

  /** Ends a share: its files are deleted and its key dropped, so nothing of it can be read again. */
  private async close(share: Share, state: Exclude<ShareState, "open">): Promise<void> {
    const updated = await this.collection.updateOne({ _id: share._id, state: "open" }, { $set: { state, purgedAt: new Date() }, $unset: { wrappedKey: "" } });
    await rm(this.dir(share), { recursive: true, force: true });
    await this.sessions.deleteMany({ shareId: share._id });
    if (updated.modifiedCount === 0) return;
    if (state !== "revoked") await this.record(share, state);
    await this.record(share, "purged", { files: share.files.length });
  }

  async revoke(collectivity: string, id: string, by?: ShareOwner): Promise<Share> {
    const share = await this.get(collectivity, id);
    if (share.state === "open") {
      await this.record(share, "revoked", by ? { by: whoIs(by) } : {});
      await this.close(share, "revoked");
    }
    return this.get(collectivity, id);
  }

  /** Sets the recipients: new ones get links, removed ones' links stop working. */
  async setRecipients(collectivity: string, id: string, recipients: { email: string; name?: string }[], by?: ShareOwner) {
    const share = await this.get(collectivity, id);
    if (share.state !== "open") throw new Gone(`share ${id} is ${share.state}`);
    this.checkRecipients(recipients.length, await this.limitsOf(collectivity));
    const wanted = new Map(recipients.map((r) => [r.email.toLowerCase(), r]));
    const added = [...wanted.values()].filter((r) => !share.recipients.some((k) => k.email === r.email.toLowerCase() && !k.revoked));
    const tokens = added.map(() => token());
    const kept = share.recipients.map((r) => (wanted.has(r.email) ? r : { ...r, revoked: true }));
    const next = [
      ...kept.filter((r) => !added.some((a) => a.email.toLowerCase() === r.email)),
      ...added.map((r, i) => ({ email: r.email.toLowerCase(), ...(r.name ? { name: r.name } : {}), tokenHash: digest(tokens[i]!), revoked: false })),
    ];
    await this.collection.updateOne({ _id: id }, { $set: { recipients: next } });
    await this.record(share, "recipients-changed", { ...(by ? { by: whoIs(by) } : {}), added: added.length, revoked: kept.filter((r) => r.revoked && !share.recipients.find((s) => s.email === r.email)?.revoked).length });
    return { links: this.links(added, tokens) };
  }

  /** Records which notices (links, invitations) went out by e-mail and which the relay did not take. */
  async recordNotices(share: Pick<Share, "_id" | "collectivity">, result: { sent: readonly string[]; failed: readonly string[] }): Promise<void> {
    if (result.sent.length + result.failed.length === 0) return;
    await this.record(share, "notified", { sent: result.sent.length, failed: result.failed.length, ...(result.failed.length ? { notSentTo: result.failed.join(", ") } : {}) });
  }

  /** The share an upload link opens, if files may still be added to it, and its limits. */
  private async uploadable(uploadToken: string): Promise<{ share: Share; limits: Limits }> {
    const found = await this.collection.findOne({ uploadTokenHash: digest(uploadToken) });
    if (!found) throw new NotFound("this upload link is not valid");
    const share = await this.current(found);
    if (share.state !== "open" || !share.wrappedKey) throw new Gone(`this share is ${share.state}: nothing more can be uploaded`);
    if (share.uploadsClosedAt) throw new Gone(share.guest ? "this invitation has been used: its files were sent" : "uploads to this share are closed");
    if (share.uploadUntil && share.uploadUntil.getTime() <= Date.now()) throw new Gone("this invitation has expired");
    return { share, limits: await this.limitsOf(share.collectivity) };
  }

  private checkRoom(share: Share, limits: Limits): void {
    if (share.files.length >= limits.filesPerShare) throw new InvalidRequest(`a share may hold at most ${limits.filesPerShare} files for this collectivity`);
  }

  private dataKey(share: Share): Buffer {
    return unwrapKey(tenantKey(this.master, share.collectivity), share.wrappedKey!, share._id);
  }

  /** Streams one file into the share behind an upload link, encrypting it on the way to disk. */
  async upload(uploadToken: string, rawName: string, body: Readable, address = "unknown"): Promise<ShareFile> {
    const { share, limits } = await this.uploadable(uploadToken);
    this.checkRoom(share, limits);
    return this.store(share, { id: randomUUID(), name: safeFileName(rawName) }, body, limits.fileBytes, address);
  }

  /**
   * Scans, hashes and encrypts a file into the share, then records it: a clean file is kept, an
   * infected one is refused and only its name and signature are kept (never its bytes).
   */
  private async store(share: Share, file: { id: string; name: string }, body: Readable, limit: number, address: string, chunked?: { dir: string; parts: string[] }): Promise<ShareFile> {
    await mkdir(this.dir(share), { recursive: true, mode: 0o700 });
    const path = join(this.dir(share), file.id);
    const meter = new Meter(limit);
    const scan = this.settings.SESF_CLAMD_ADDRESS ? new ClamdScan(this.settings.SESF_CLAMD_ADDRESS) : undefined;
    // A chunked file is on disk already, encrypted: it is read through once, to be measured,
    // hashed and scanned whole, and then kept as it is.
    const target = chunked
      ? new Writable({ write: (_chunk, _encoding, done) => done() })
      : [new EncryptStream(this.dataKey(share), file.id), createWriteStream(`${path}.partial`, { mode: 0o600 })];
    let verdict: ScanResult | undefined;
    try {
      await pipeline([body, meter, ...(scan ? [scan] : []), ...[target].flat()]);
      verdict = await scan?.result;
      if (verdict?.state === "failed") throw new Unavailable(`the antivirus could not scan the file (${verdict.reason}); try again`);
      if (verdict?.state === "clean" || !verdict) await rename(chunked?.dir ?? `${path}.partial`, path);
    } catch (error) {
      scan?.abandon();
      throw error;
    } finally {
      await rm(`${path}.partial`, { force: true });
    }
    const stored: ShareFile = {
      ...file,
      size: meter.bytes,
      sha256: meter.hash.digest("hex"),
      uploadedAt: new Date(),
      scan: verdict ? (verdict.state === "clean" ? "clean" : "infected") : "unscanned",
      ...(verdict?.state === "infected" ? { signature: verdict.signature } : {}),
      ...(chunked && verdict?.state !== "infected" ? { parts: chunked.parts } : {}),
    };
    await this.collection.updateOne({ _id: share._id }, { $push: { files: stored } });
    if (verdict?.state === "infected") {
      // Kept in the share's record (the agent sees why), never on disk.
      await this.record(share, "infected", { file: stored.name, signature: verdict.signature });
      throw new Infected(`the file ${stored.name} is infected (${verdict.signature}); it was not kept`);
    }
    await this.record(share, "uploaded", { file: stored.name, bytes: stored.size, sha256: stored.sha256, address, ...(share.guest ? { by: share.guest.email } : {}) });
    this.metrics.businessCounter("mutualis_sesf_bytes_uploaded_total", "Bytes uploaded into shares, per collectivity.").inc({ collectivity: share.collectivity }, stored.size);
    this.events.record(share.collectivity, "bytes_uploaded", `${share._id}.${stored.id}`, stored.size);
    return stored;
  }

  /** Starts a chunked upload of a file of `size` bytes; chunks then arrive in order, each retryable. */
  async startSession(uploadToken: string, rawName: string, size: number): Promise<UploadSession> {
    const { share, limits } = await this.uploadable(uploadToken);
    this.checkRoom(share, limits);
    if (size > limits.fileBytes) throw new PayloadTooLarge(`a file may hold at most ${limits.fileBytes} bytes`);
    const session: UploadSession = { _id: randomUUID(), shareId: share._id, name: safeFileName(rawName), size, offset: 0, parts: [], createdAt: new Date() };
    await this.sessions.insertOne(session);
    return session;
  }

  async session(uploadToken: string, id: string): Promise<UploadSession> {
    const { share } = await this.uploadable(uploadToken);
    const session = await this.sessions.findOne({ _id: id, shareId: share._id });
    if (!session) throw new NotFound(`no upload ${id} for this link`);
    return session;
  }

  /**
   * Adds a chunk at `offset`, which must be where the upload stands (else 409, with where it
   * stands). A chunk is kept whole or not at all: after a broken connection the client asks
   * where the upload stands and sends that chunk again. The last chunk makes the file: its
   * parts are read through in order (verified, measured, hashed, scanned whole) and kept.
   */
  async appendChunk(uploadToken: string, id: string, offset: number, body: Readable, address = "unknown"): Promise<{ session: UploadSession; file?: ShareFile }> {
    const { share, limits } = await this.uploadable(uploadToken);
    const session = await this.sessions.findOne({ _id: id, shareId: share._id });
    if (!session) throw new NotFound(`no upload ${id} for this link`);
    if (offset !== session.offset) throw new OffsetMismatch(session.offset);
    const room = Math.min(this.settings.SESF_CHUNK_BYTES, session.size - offset);
    const dir = join(this.dir(share), "sessions", id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const part = `${offset}.${randomUUID()}`;
    const meter = new Meter(room, `a chunk may hold at most ${room} bytes here (the file's remaining bytes, and SESF_CHUNK_BYTES)`);
    try {
      await pipeline([body, meter, new EncryptStream(this.dataKey(share), `${id}:${part}`), createWriteStream(join(dir, `${part}.partial`), { mode: 0o600 })]);
      if (meter.bytes === 0) throw new InvalidRequest("a chunk must hold at least one byte");
      await rename(join(dir, `${part}.partial`), join(dir, part));
    } finally {
      await rm(join(dir, `${part}.partial`), { force: true });
    }
    // Two chunks sent at once for the same offset: only one is kept.
    const next = await this.sessions.findOneAndUpdate(
      { _id: id, offset },
      { $set: { offset: offset + meter.bytes }, $push: { parts: { offset, bytes: meter.bytes, file: part } } },
      { returnDocument: "after" },
    );
    if (!next) {
      await rm(join(dir, part), { force: true });
      throw new OffsetMismatch((await this.sessions.findOne({ _id: id }))?.offset ?? offset);
    }
    if (next.offset < next.size) return { session: next };
    this.checkRoom((await this.collection.findOne({ _id: share._id }))!, limits);
    const parts = next.parts.map((p) => p.file);
    try {
      const file = await this.store(share, { id, name: next.name }, plaintextOfParts(dir, parts, this.dataKey(share), id), limits.fileBytes, address, { dir, parts });
      return { session: next, file };
    } finally {
      await rm(dir, { recursive: true, force: true });
      // The sessions directory goes with its last session; another one in progress keeps it.
      await rmdir(join(this.dir(share), "sessions")).catch(() => undefined);
      await this.sessions.deleteOne({ _id: id });
    }
  }

  /**
   * The holder of the upload link says they are done: the link stops working. For a voucher,
   * that is its one use, and the content then stays `keepDays` for the agent to download.
   */
  async closeUploads(uploadToken: string, address = "unknown"): Promise<Share> {
    const { share } = await this.uploadable(uploadToken);
    if (share.guest && share.files.filter((f) => f.scan !== "infected").length === 0) throw new InvalidRequest("nothing was uploaded yet: send at least one file before closing");
    const now = new Date();
    const expiresAt = share.keepDays ? new Date(now.getTime() + share.keepDays * 86_400_000) : share.expiresAt;
    const closed = await this.collection.findOneAndUpdate(
      { _id: share._id, state: "open", uploadsClosedAt: { $exists: false } },
      { $set: { uploadsClosedAt: now, expiresAt } },
      { returnDocument: "after" },
    );
    if (!closed) throw new Gone("uploads to this share are closed");
    const abandoned = await this.sessions.countDocuments({ shareId: share._id });
    await this.sessions.deleteMany({ shareId: share._id });
    await rm(join(this.dir(share), "sessions"), { recursive: true, force: true });
    await this.record(share, "uploads-closed", { files: closed.files.length, address, expiresAt: expiresAt.toISOString(), ...(abandoned ? { abandoned } : {}), ...(share.guest ? { by: share.guest.email } : {}) });
    return closed;
  }

  /**
   * The share and recipient a link opens. An unknown link, a missing or wrong password and a
   * revoked recipient all get the same answer, so nobody learns whether a share exists; an
   * expired or ended share answers 410 Gone.
   */
  async open(linkToken: string, password: string | undefined): Promise<{ share: Share; recipient: Recipient }> {
    const found = await this.collection.findOne({ "recipients.tokenHash": digest(linkToken) });
    const recipient = found?.recipients.find((r) => r.tokenHash === digest(linkToken));
    if (!found || !recipient || recipient.revoked) throw new Forbidden(closed);
    if (found.passwordHash && !(password && (await verifyPassword(password, found.passwordHash)))) throw new Forbidden(closed);
    const share = await this.current(found);
    if (share.state !== "open") throw new Gone(`this share has ${share.state === "exhausted" ? "been downloaded as many times as allowed" : share.state === "expired" ? "expired" : "been withdrawn"}; its content is deleted`);
    return { share, recipient };
  }

  /** Streams a file to a recipient, decrypting as it goes; counted when it starts and when it completes. */
  async download(linkToken: string, password: string | undefined, fileId: string, address: string, start: (file: ShareFile) => Writable): Promise<void> {
    const { share, recipient } = await this.open(linkToken, password);
    const file = share.files.find((f) => f.id === fileId);
    if (!file) throw new NotFound(`no file ${fileId} in this share`);
    if (file.scan === "infected") throw new Conflict(`the file ${file.name} is infected (${file.signature ?? "virus"}) and is never served`);
    // The download is counted before a byte is sent: a client that has every byte may not wait
    // for the response's end, and two downloads at once must not both pass the limit.
    const counted = await this.downloads.findOneAndUpdate(
      { _id: `${share._id}:${recipient.email}:${fileId}` },
      { $inc: { count: 1 }, $set: { shareId: share._id, email: recipient.email, fileId } },
      { upsert: true, returnDocument: "after" },
    );
    if (share.downloadLimit && (counted?.count ?? 1) > share.downloadLimit) throw new Gone("this file has been downloaded as many times as allowed");
    const dataKey = this.dataKey(share);
    const path = join(this.dir(share), file.id);
    await stat(path);
    // The first segment is checked before anything is sent: a file altered at its start gets an
    // error status, never bytes; one altered later ends the response before its Content-Length.
    const decrypt = file.parts ? plaintextOfParts(path, file.parts, dataKey, file.id) : createReadStream(path, { highWaterMark: readBytes }).pipe(new DecryptStream(dataKey, file.id));
    const chunks = decrypt[Symbol.asyncIterator]();
    const first = await chunks.next();
    const out = start(file);
    await pipeline(
      (async function* () {
        if (!first.done) yield first.value as Buffer;
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value as Buffer;
      })(),
      out,
      { end: false },
    );
    await this.downloads.updateOne({ _id: counted!._id }, { $inc: { completed: 1 } });
    // Purged if that was the last allowed download, before the response ends.
    await this.record(share, "downloaded", { recipient: recipient.email, file: file.name, address });
    this.metrics.businessCounter("mutualis_sesf_downloads_total", "Files downloaded by recipients, per collectivity.").inc({ collectivity: share.collectivity });
    if (share.downloadLimit && (await this.exhausted(share))) await this.close(share, "exhausted");
    out.end();
  }

  /** Every active recipient has downloaded every file as many times as allowed. */
  private async exhausted(share: Share): Promise<boolean> {
    const rows = await this.downloads.find({ shareId: share._id }).toArray();
    const count = (email: string, fileId: string) => rows.find((d) => d.email === email && d.fileId === fileId)?.count ?? 0;
    const served = share.files.filter((f) => f.scan !== "infected");
    return share.recipients.filter((r) => !r.revoked).every((r) => served.every((f) => count(r.email, f.id) >= share.downloadLimit!));
  }

  /** The share's audit trail and whether its chain is intact. */
  async trail(collectivity: string, id: string) {
    await this.get(collectivity, id);
    const entries = (await this.audit.find({ shareId: id }).sort({ seq: 1 }).toArray()).map(({ _id, collectivity: _c, ...entry }) => entry as AuditEntry);
    return { entries, verification: verifyChain(entries) };
  }

  /** Ends every open share past its expiry; run periodically. */
  async expireDue(): Promise<number> {
    const due = await this.collection.find({ state: "open", expiresAt: { $lte: new Date() } }).toArray();
    for (const share of due) await this.close(share, "expired");
    return due.length;
  }
}
