import { randomUUID } from "node:crypto";
import { Conflict, NotFound, racingUpsert, Repository, type Database } from "@mutualis/service-kit";
export type { Tenant } from "@mutualis/service-kit";
import type { ActSubmission } from "./domain/act.ts";
import type { Classification } from "./domain/classification.ts";
import { nextStatus, type ActEvent, type ActStatus } from "./domain/statuses.ts";

export interface HistoryEntry {
  status: ActStatus;
  at: Date;
  detail?: string;
}

/** A file of the act as stored: what the agent sent, and the @ctes typology it goes under. */
export interface StoredFile {
  fileName: string;
  mimeType: "application/pdf" | "application/xml";
  size: number;
  sha256: string;
  typology: string;
  /** The act's own document's signature (detached CMS, DER), base64, written in its metadata's Document/Signature. */
  signature?: string;
}

/**
 * How the act's transmission is named, fixed the first time it is sent so a retry sends the same
 * archive: the act's identifier, the day and the collectivity's sequence number that day.
 */
export interface TransmissionNaming {
  identifier: string;
  day: string;
  sequence: number;
  archive: string;
  envelope: string;
}

export interface ExchangeEntry {
  direction: "sent" | "received";
  message: string;
  /** The envelope it travelled in (EACT--… sent, TACT--… received), when it had one. */
  envelope?: string;
  file: string;
  at: Date;
  detail?: string;
  /** Envelope and file, which no other message of the act has: what makes recording it again a no-op. */
  key?: string;
}

export interface StoredClassification {
  _id: string;
  classification: Classification;
  /** When the prefecture last said this is the one in force. */
  checkedAt: Date;
}

/** Each collectivity's classification, as its prefecture last sent it. */
export class ClassificationRepository extends Repository<StoredClassification> {
  constructor(database: Database) {
    super(database, "classifications");
  }

  get(collectivity: string): Promise<StoredClassification | null> {
    return this.collection.findOne({ _id: collectivity });
  }

  async save(collectivity: string, classification: Classification, checkedAt: Date): Promise<void> {
    await racingUpsert(() => this.collection.updateOne({ _id: collectivity }, { $set: { classification, checkedAt } }, { upsert: true }));
  }

  async checked(collectivity: string, checkedAt: Date): Promise<void> {
    await this.collection.updateOne({ _id: collectivity }, { $set: { checkedAt } });
  }
}

export interface Act extends Omit<ActSubmission, "document" | "annexes"> {
  _id: string;
  collectivity: string;
  /** The agent who submitted it: they may ask for its cancellation, as may an administrator. */
  author?: { subject: string; email: string };
  status: ActStatus;
  document: StoredFile;
  annexes: StoredFile[];
  transmission?: TransmissionNaming;
  /** The classification the act was built on: its date, named in its metadata. */
  classificationVersion?: string;
  /** The prefecture acknowledged it while naming a newer classification in force. */
  classificationOutdated?: boolean;
  submittedAt: Date;
  history: HistoryEntry[];
  identifier?: string;
  acknowledgedAt?: Date;
  reason?: string;
  /**
   * Every @ctes message about the act, both ways, in the order they went or came: its root
   * element (Acte, ARActe, AnomalieActe, Annulation, ARAnnulation, CourrierSimple…), the file
   * kept in the act's documents, and what it says in a line.
   */
  exchanges?: ExchangeEntry[];
  /** Its publication, once acknowledged: the public page's address, or why it was not published. */
  publication?: { url: string; at: Date; acknowledgedOn?: string } | { skipped: string };
  /** The flow that sent it (a document of the flows service at one of its steps), told when the prefecture answers. */
  flow?: { document: string; step: number; signalled?: boolean };
}

/** Acts, always read and written for one collectivity: a tenant never reaches another's acts. */
export class ActRepository extends Repository<Act> {
  constructor(database: Database) {
    super(database, "acts");
  }

  async insert(collectivity: string, submission: Omit<Act, "_id" | "collectivity" | "status" | "submittedAt" | "history">, id: string = randomUUID()): Promise<Act> {
    const duplicate = await this.collection.findOne({ collectivity, numeroInterne: submission.numeroInterne });
    if (duplicate) throw new Conflict(`an act numbered ${submission.numeroInterne} was already submitted (${duplicate._id})`);
    const now = new Date();
    const act: Act = { ...submission, _id: id, collectivity, status: "posted", submittedAt: now, history: [{ status: "posted", at: now }] };
    await this.collection.insertOne(act);
    return act;
  }

  /** Acts of flows the prefecture answered, whose flow has not been told yet. */
  unsignalled(limit = 100): Promise<Act[]> {
    return this.collection.find({ "flow.signalled": false, status: { $in: ["acknowledged", "refused", "cancelled", "cancellationAsked"] } }).limit(limit).toArray();
  }

  async signalled(act: Act): Promise<void> {
    await this.collection.updateOne({ _id: act._id, collectivity: act.collectivity }, { $set: { "flow.signalled": true } });
  }

  async setPublication(act: Act, publication: NonNullable<Act["publication"]>): Promise<void> {
    await this.collection.updateOne({ _id: act._id, collectivity: act.collectivity, publication: { $exists: false } }, { $set: { publication } });
  }

  /** The publication, made before the acknowledgement, now knows it. */
  async publicationAcknowledged(act: Act, acknowledgedOn: string): Promise<void> {
    await this.collection.updateOne({ _id: act._id, collectivity: act.collectivity, "publication.url": { $exists: true } }, { $set: { "publication.acknowledgedOn": acknowledgedOn } });
  }

  async get(collectivity: string, id: string): Promise<Act> {
    const act = await this.collection.findOne({ _id: id, collectivity });
    if (!act) throw new NotFound(`no act ${id} for collectivity ${collectivity}`);
    return act;
  }

  list(collectivity: string, limit = 100): Promise<Act[]> {
    return this.collection.find({ collectivity }).sort({ submittedAt: -1 }).limit(limit).toArray();
  }

  /**
   * Applies an event if the act is still in the status it was read in. Returns the act as it
   * is afterwards; a concurrent or repeated event (a redelivered message) changes nothing.
   */
  async apply(act: Act, event: ActEvent, fields: Partial<Act> = {}): Promise<Act> {
    const status = nextStatus(act.status, event);
    const detail = "reason" in event ? event.reason : "identifier" in event ? event.identifier : undefined;
    const entry: HistoryEntry = { status, at: new Date(), ...(detail ? { detail } : {}) };
    const result = await this.collection.findOneAndUpdate(
      { _id: act._id, collectivity: act.collectivity, status: act.status },
      { $set: { ...fields, status }, $push: { history: entry } },
      { returnDocument: "after" },
    );
    return result ?? (await this.get(act.collectivity, act._id));
  }

  /**
   * Fixes the act's transmission naming if it has none yet; returns the naming the act keeps
   * (another delivery of the same message may have fixed it first).
   */
  async fixTransmission(act: Act, naming: TransmissionNaming): Promise<TransmissionNaming> {
    await this.collection.updateOne({ _id: act._id, collectivity: act.collectivity, transmission: { $exists: false } }, { $set: { transmission: naming } });
    return (await this.get(act.collectivity, act._id)).transmission!;
  }

  /**
   * Records a message of the exchanges about the act, once: a redelivered message (the same file
   * in the same envelope) is not recorded twice.
   */
  async addExchange(act: Act, entry: ExchangeEntry): Promise<void> {
    const key = `${entry.envelope ?? ""}/${entry.file}`;
    await this.collection.updateOne({ _id: act._id, collectivity: act.collectivity, "exchanges.key": { $ne: key } }, { $push: { exchanges: { ...entry, key } } });
  }

  /** Acts of every collectivity in a status, for the flows that move them on. */
  inStatus(status: ActStatus): Promise<Act[]> {
    return this.collection.find({ status }).toArray();
  }

  byId(id: string): Promise<Act | null> {
    return this.collection.findOne({ _id: id });
  }
}

/** Counters that never give the same number twice: a collectivity's exchanges of one day. */
export class SequenceRepository extends Repository<{ _id: string; n: number }> {
  constructor(database: Database, collection = "sequences") {
    super(database, collection);
  }

  async next(key: string): Promise<number> {
    const counter = await racingUpsert(() => this.collection.findOneAndUpdate({ _id: key }, { $inc: { n: 1 } }, { upsert: true, returnDocument: "after" }));
    return counter!.n;
  }
}
