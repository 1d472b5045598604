import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Conflict, Forbidden, Gone, InvalidRequest, isDuplicateKey, NotFound, PayloadTooLarge, Repository, Unavailable, type BusinessEvents, type Database, type ServiceMetrics } from "@mutualis/service-kit";
import type { ShareOwner } from "./access.ts";
import { ClamdScan, type ScanResult } from "./antivirus.ts";
import type { AuditEntry } from "./audit.ts";
import { AuditTrail } from "./audit-trail.ts";
import { tenantKey, unwrapKey, wrapKey } from "./crypto.ts";
import { FileStore, Meter } from "./file-store.ts";
import { safeFileName } from "./names.ts";
import { defaultAttemptPolicy, PasswordAttempts, PasswordHasher } from "./passwords.ts";
import { daysAfter, endedMessage, expiryOnClose, stateAt, systemClock, uploadRefusal, type Clock, type ShareState } from "./share-state.ts";
import type { Limits, SesfSettings } from "./settings.ts";
import { DownloadLedger } from "./downloads.ts";
import { UploadReservations, type Part, type Reservation, type ShareFile, type UploadSession } from "./uploads.ts";

export type { ShareState } from "./share-state.ts";
export type { ShareFile, UploadSession } from "./uploads.ts";

export interface Recipient {
  email: string;
  name?: string;
  /** SHA-256 of the link's token: the token itself is given once and never stored. */
  tokenHash: string;
  revoked: boolean;
}

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


/**
 * Shares of the collectivities, the service's use cases: created over NATS by agents, filled
 * over HTTP with an upload link (in one request, or in chunks that survive a broken
 * connection), downloaded by recipients with their own links. The files are kept by the
 * `FileStore` (encrypted with one key per share, wrapped by the collectivity's key), every
 * step is in the share's `AuditTrail`, what a share is at a moment is `share-state.ts`'s, and
 * the time is the injected clock's.
 */
export class Shares extends Repository<Share> {
  private readonly audit: AuditTrail;
  private readonly files: FileStore;
  private readonly uploads: UploadReservations;
  private readonly attempts: PasswordAttempts;
  private readonly downloads: DownloadLedger;
  /** Who ended each share: inserted once, so a share ends (and is recorded ending) once. */
  private readonly closures;

  constructor(
    database: Database,
    private readonly settings: SesfSettings,
    private readonly master: Buffer,
    private readonly metrics: ServiceMetrics,
    private readonly events: BusinessEvents,
    /** The collectivity's limits, read when they apply (they may change). */
    private readonly limitsOf: (collectivity: string) => Promise<Limits>,
    private readonly passwords: PasswordHasher = new PasswordHasher(),
    private readonly clock: Clock = systemClock,
  ) {
    super(database, "shares");
    this.audit = new AuditTrail(database, clock);
    this.files = new FileStore(settings.SESF_STORAGE_DIR);
    this.uploads = new UploadReservations(database, clock);
    this.attempts = new PasswordAttempts(database, clock, { ...defaultAttemptPolicy, freeFailures: settings.SESF_PASSWORD_FREE_FAILURES, lockAfter: settings.SESF_PASSWORD_LOCK_AFTER });
    this.downloads = new DownloadLedger(database, clock);
    this.closures = database.collection<{ _id: string; state: ShareState; at: Date }>("share_closures");
  }

  private record(share: Pick<Share, "_id" | "collectivity">, event: AuditEntry["event"], detail: AuditEntry["detail"] = {}): Promise<AuditEntry> {
    return this.audit.append(share, event, detail);
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
    const now = this.clock();
    const share: Share = {
      _id: shareId,
      collectivity,
      description: "",
      createdAt: now,
      expiresAt: daysAfter(now, days),
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
    if (request.password) share.passwordHash = await this.passwords.hash(request.password);
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
    return this.withFiles(await this.current(share));
  }

  /** A collectivity's shares, narrowed by `filter` (the caller's own, see access.ts). */
  async list(collectivity: string, filter: Record<string, string> = {}): Promise<Share[]> {
    const shares = await this.collection.find({ ...filter, collectivity }).sort({ createdAt: -1 }).toArray();
    return Promise.all(shares.map((share) => this.withFiles(share)));
  }

  /** The share with its files: those kept in its slots, after those its record held before slots. */
  private async withFiles(share: Share): Promise<Share> {
    return { ...share, files: [...(share.files ?? []), ...(await this.uploads.files(share._id))] };
  }

  /** Per recipient: downloads completed, and attempts (started, refused over the limit included). */
  downloadsOf(share: Share): Promise<{ recipient: string; count: number; attempts: number }[]> {
    return this.downloads.perRecipient(share);
  }

  /** An open share past its expiry is expired and purged as soon as anyone looks at it. */
  private async current(share: Share): Promise<Share> {
    if (share.state === "open" && stateAt(share, this.clock()) === "expired") {
      await this.close(share, "expired");
      return (await this.collection.findOne({ _id: share._id }))!;
    }
    return share;
  }

  /** Ends a share: its files are deleted and its key dropped, so nothing of it can be read again. */
  private async close(share: Share, state: Exclude<ShareState, "open">): Promise<void> {
    let first = true;
    try {
      await this.closures.insertOne({ _id: share._id, state, at: this.clock() });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      first = false;
    }
    if (first) await this.collection.updateOne({ _id: share._id }, { $set: { state, purgedAt: this.clock() }, $unset: { wrappedKey: "" } });
    await this.files.purge(share);
    await this.uploads.dropShare(share._id);
    if (!first) return;
    if (state !== "revoked") await this.record(share, state);
    await this.record(share, "purged", { files: (await this.withFiles(share)).files.length });
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
  private async uploadable(uploadToken: string): Promise<{ share: Share; limits: Limits; before: number }> {
    const found = await this.collection.findOne({ uploadTokenHash: digest(uploadToken) });
    if (!found) throw new NotFound("this upload link is not valid");
    const share = await this.current(found);
    const refusal = uploadRefusal(share, this.clock());
    if (refusal || !share.wrappedKey) throw new Gone(refusal ?? `this share is ${share.state}: nothing more can be uploaded`);
    // Files its record held before slots count against its limit too.
    return { share: await this.withFiles(share), limits: await this.limitsOf(share.collectivity), before: share.files?.length ?? 0 };
  }

  private dataKey(share: Share): Buffer {
    return unwrapKey(tenantKey(this.master, share.collectivity), share.wrappedKey!, share._id);
  }

  /**
   * Streams one file into the share behind an upload link, encrypting it on the way to disk.
   * It reserves its slot and its bytes first: `declared` (the request's length) when given,
   * else the file limit.
   */
  async upload(uploadToken: string, rawName: string, body: Readable, address = "unknown", declared?: number): Promise<ShareFile> {
    const { share, limits, before } = await this.uploadable(uploadToken);
    if (declared !== undefined && declared > limits.fileBytes) throw new PayloadTooLarge(`a file may hold at most ${limits.fileBytes} bytes`);
    const bytes = declared ?? limits.fileBytes;
    const reservation = await this.uploads.reserve(share._id, limits, bytes, before);
    let kept = false;
    try {
      const file = await this.store(share, reservation, { id: randomUUID(), name: safeFileName(rawName) }, body, bytes, address);
      kept = true;
      return file;
    } catch (error) {
      kept = error instanceof Infected;
      throw error;
    } finally {
      await this.uploads.release(reservation, kept);
    }
  }

  /**
   * Scans, hashes and encrypts a file into the share, then records it: a clean file is kept, an
   * infected one is refused and only its name and signature are kept (never its bytes).
   */
  private async store(share: Share, reservation: Reservation, file: { id: string; name: string }, body: Readable, limit: number, address: string, chunked?: { session: string; parts: Part[] }): Promise<ShareFile> {
    const meter = new Meter(limit);
    const scan = this.settings.SESF_CLAMD_ADDRESS ? new ClamdScan(this.settings.SESF_CLAMD_ADDRESS) : undefined;
    let verdict: ScanResult | undefined;
    const keep = async () => {
      verdict = await scan?.result;
      if (verdict?.state === "failed") throw new Unavailable("the antivirus could not scan the file; try again", { cause: new Error(verdict.reason) });
      return verdict?.state === "clean" || !verdict;
    };
    const source = [body, meter, ...(scan ? [scan] : [])];
    try {
      // A chunked file is on disk already, encrypted: it is read through once, to be measured,
      // hashed and scanned whole, and then kept as it is.
      if (chunked) await this.files.adoptParts(share, chunked.session, file.id, source, keep);
      else await this.files.write(share, file.id, this.dataKey(share), source, keep);
    } catch (error) {
      scan?.abandon();
      throw error;
    }
    const stored: ShareFile = {
      ...file,
      size: meter.bytes,
      sha256: meter.hash.digest("hex"),
      uploadedAt: this.clock(),
      scan: verdict ? (verdict.state === "clean" ? "clean" : "infected") : "unscanned",
      ...(verdict?.state === "infected" ? { signature: verdict.signature } : {}),
      ...(chunked && verdict?.state !== "infected" ? { parts: chunked.parts.map((p) => p.file) } : {}),
    };
    await this.uploads.keep(reservation, stored);
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
    const { share, limits, before } = await this.uploadable(uploadToken);
    if (size > limits.fileBytes) throw new PayloadTooLarge(`a file may hold at most ${limits.fileBytes} bytes`);
    const reservation = await this.uploads.reserve(share._id, limits, size, before);
    try {
      return await this.uploads.startSession(share._id, safeFileName(rawName), size, reservation);
    } catch (error) {
      await this.uploads.release(reservation, false);
      throw error;
    }
  }

  async session(uploadToken: string, id: string): Promise<UploadSession> {
    const { share } = await this.uploadable(uploadToken);
    const session = await this.uploads.sessions.findOne({ _id: id, shareId: share._id });
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
    const session = await this.uploads.sessions.findOne({ _id: id, shareId: share._id });
    if (!session) throw new NotFound(`no upload ${id} for this link`);
    if (offset !== session.offset) throw new OffsetMismatch(session.offset);
    const room = Math.min(this.settings.SESF_CHUNK_BYTES, session.size - offset);
    const { part, bytes } = await this.files.writeChunk(share, id, offset, this.dataKey(share), body, room);
    // Two chunks sent at once for the same offset: only one is kept.
    if (!(await this.uploads.addPart(session, { offset, bytes, file: part }))) {
      await this.files.removeChunk(share, id, part);
      throw new OffsetMismatch((await this.uploads.sessions.findOne({ _id: id }))?.offset ?? offset);
    }
    const next: UploadSession = { ...session, offset: offset + bytes };
    if (next.offset < next.size) return { session: next };
    let kept = false;
    try {
      if (!next.reservation) throw new Gone("this upload was started before this version of the service: start it again");
      const parts = await this.uploads.partsOf(next);
      const plaintext = this.files.sessionPlaintext(share, id, parts.map((p) => p.file), this.dataKey(share));
      const file = await this.store(share, next.reservation, { id, name: next.name }, plaintext, limits.fileBytes, address, { session: id, parts });
      kept = true;
      return { session: next, file };
    } catch (error) {
      kept = error instanceof Infected;
      throw error;
    } finally {
      await this.files.removeSession(share, id);
      await this.uploads.end(next, kept);
    }
  }

  /**
   * The holder of the upload link says they are done: the link stops working. For a voucher,
   * that is its one use, and the content then stays `keepDays` for the agent to download.
   */
  async closeUploads(uploadToken: string, address = "unknown"): Promise<Share> {
    const { share } = await this.uploadable(uploadToken);
    if (share.guest && share.files.filter((f) => f.scan !== "infected").length === 0) throw new InvalidRequest("nothing was uploaded yet: send at least one file before closing");
    const now = this.clock();
    const expiresAt = expiryOnClose(share, now);
    const closed = await this.collection.findOneAndUpdate(
      { _id: share._id, state: "open", uploadsClosedAt: { $exists: false } },
      { $set: { uploadsClosedAt: now, expiresAt } },
      { returnDocument: "after" },
    );
    if (!closed) throw new Gone("uploads to this share are closed");
    const files = (await this.withFiles(closed)).files;
    const sessions = await this.uploads.sessions.find({ shareId: share._id }).toArray();
    for (const session of sessions) await this.uploads.end(session, false);
    await this.files.removeSessions(share);
    await this.record(share, "uploads-closed", { files: files.length, address, expiresAt: expiresAt.toISOString(), ...(sessions.length ? { abandoned: sessions.length } : {}), ...(share.guest ? { by: share.guest.email } : {}) });
    return { ...closed, files };
  }

  /**
   * The share and recipient a link opens. An unknown link, a missing or wrong password and a
   * revoked recipient all get the same answer, so nobody learns whether a share exists; an
   * expired or ended share answers 410 Gone. Wrong passwords are limited per link and per
   * address (see passwords.ts); a link locked by them is recorded in the share's trail.
   */
  async open(linkToken: string, password: string | undefined, address = "unknown"): Promise<{ share: Share; recipient: Recipient }> {
    const tokenHash = digest(linkToken);
    const found = await this.collection.findOne({ "recipients.tokenHash": tokenHash });
    const recipient = found?.recipients.find((r) => r.tokenHash === tokenHash);
    if (!found || !recipient || recipient.revoked) throw new Forbidden(closed);
    if (found.passwordHash) {
      if (!password) throw new Forbidden(closed);
      const stored = found.passwordHash;
      const { ok, locked } = await this.attempts.attempt(tokenHash, address, () => this.passwords.verify(password, stored));
      if (locked) await this.record(found, "password-locked", { recipient: recipient.email, address });
      if (!ok) throw new Forbidden(closed);
    }
    const share = await this.current(found);
    if (share.state !== "open") throw new Gone(endedMessage(share.state));
    return { share: await this.withFiles(share), recipient };
  }

  /** Streams a file to a recipient, decrypting as it goes; counted when it starts and when it completes. */
  async download(linkToken: string, password: string | undefined, fileId: string, address: string, start: (file: ShareFile) => Writable): Promise<void> {
    const { share, recipient } = await this.open(linkToken, password, address);
    const file = share.files.find((f) => f.id === fileId);
    if (!file) throw new NotFound(`no file ${fileId} in this share`);
    if (file.scan === "infected") throw new Conflict(`the file ${file.name} is infected (${file.signature ?? "virus"}) and is never served`);
    // The download is counted before a byte is sent: a client that has every byte may not wait
    // for the response's end, and two downloads at once must not both pass the limit.
    const counted = await this.downloads.start(share._id, recipient.email, fileId, share.downloadLimit);
    if (!counted) throw new Gone("this file has been downloaded as many times as allowed");
    // The first segment is checked before anything is sent: a file altered at its start gets an
    // error status, never bytes; one altered later ends the response before its Content-Length.
    const chunks = (await this.files.plaintext(share, file, this.dataKey(share)))[Symbol.asyncIterator]();
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
    await this.downloads.complete(counted);
    // Purged if that was the last allowed download, before the response ends.
    await this.record(share, "downloaded", { recipient: recipient.email, file: file.name, address });
    this.metrics.businessCounter("mutualis_sesf_downloads_total", "Files downloaded by recipients, per collectivity.").inc({ collectivity: share.collectivity });
    if (share.downloadLimit && (await this.exhausted(share))) await this.close(share, "exhausted");
    out.end();
  }

  /** Every active recipient has downloaded every file as many times as allowed. */
  private exhausted(share: Share): Promise<boolean> {
    const served = share.files.filter((f) => f.scan !== "infected").map((f) => f.id);
    const active = share.recipients.filter((r) => !r.revoked).map((r) => r.email);
    return this.downloads.exhausted(share._id, active, served, share.downloadLimit!);
  }

  /** The share's audit trail and whether its chain is intact. */
  async trail(collectivity: string, id: string) {
    await this.get(collectivity, id);
    return this.audit.read(id);
  }

  /** Ends every open share past its expiry, and abandons uploads idle too long; run periodically. */
  async expireDue(): Promise<number> {
    const now = this.clock();
    const due = await this.collection.find({ state: "open", expiresAt: { $lte: now } }).toArray();
    for (const share of due) await this.close(share, "expired");
    const idle = await this.uploads.idleSince(new Date(now.getTime() - this.settings.SESF_UPLOAD_IDLE_HOURS * 3_600_000));
    for (const session of idle) {
      const share = await this.collection.findOne({ _id: session.shareId });
      if (share) await this.files.removeSession(share, session._id);
      await this.uploads.end(session, false);
    }
    return due.length;
  }

  /** Stops the password checker's thread. */
  stop(): Promise<void> {
    return this.passwords.close();
  }
}
