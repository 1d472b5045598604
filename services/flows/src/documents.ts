import { Conflict, NotFound, Repository, type Database, type StoredObject } from "@mutualis/service-kit";
import type { FlowDefinition, FlowStep } from "./domain/definition.ts";

export type StepState = "waiting" | "running" | "done" | "parked" | "rejected";

export interface StoredDocument {
  readonly name: string;
  readonly mimeType: string;
  readonly object: StoredObject;
}

/** Where one step of a document stands, and what it made elsewhere (a folder's id, a publication's address). */
export interface DocumentStep {
  readonly service: FlowStep["service"];
  state: StepState;
  attempts: number;
  ref?: string;
  url?: string;
  reason?: string;
  startedAt?: Date;
  endedAt?: Date;
}

/** A line of a document's history: what happened at which step, when. */
export interface FlowEvent {
  readonly at: Date;
  readonly step?: number;
  readonly event: string;
  readonly detail?: string;
}

/** A document going through its flow. */
export interface FlowDocument {
  _id: string;
  collectivity: string;
  kind: string;
  /** The flow as it was when the document started: changing it later does not move this one. */
  definition: FlowDefinition;
  numeroInterne: string;
  objet: string;
  date: string;
  file: StoredDocument;
  /** Its signed version, once its circuit ended, and who signed it last (the arrêté's author). */
  signed?: StoredDocument & { signer?: { name: string; title?: string } };
  /** The prefecture's acknowledgement, once @ctes is done: the act, its identifier, the day. */
  acknowledgement?: { act: string; identifier: string; acknowledgedOn?: string };
  steps: DocumentStep[];
  state: "running" | "done" | "parked" | "rejected";
  history: FlowEvent[];
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export class FlowDocumentRepository extends Repository<FlowDocument> {
  constructor(database: Database) {
    super(database, "documents");
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ collectivity: 1, updatedAt: -1 });
    await this.collection.createIndex({ state: 1, updatedAt: 1 });
  }

  async insert(document: FlowDocument): Promise<void> {
    try {
      await this.collection.insertOne(document);
    } catch (error) {
      if ((error as { code?: number }).code === 11000) throw new Conflict(`document ${document.numeroInterne} of kind ${document.kind} was started already`);
      throw error;
    }
  }

  async require(collectivity: string, id: string): Promise<FlowDocument> {
    const found = await this.collection.findOne({ _id: id, collectivity });
    if (!found) throw new NotFound(`no document ${id} in collectivity ${collectivity}`);
    return found;
  }

  /** One step's new state, the document's, and a line of history, at once. */
  async step(document: FlowDocument, index: number, change: Partial<DocumentStep>, event: Omit<FlowEvent, "at" | "step">, more: Partial<Pick<FlowDocument, "state" | "signed" | "acknowledgement">> = {}): Promise<FlowDocument> {
    const set: Record<string, unknown> = { updatedAt: new Date(), ...more };
    for (const [key, value] of Object.entries(change)) set[`steps.${index}.${key}`] = value;
    const updated = await this.collection.findOneAndUpdate(
      { _id: document._id, collectivity: document.collectivity },
      { $set: set, $push: { history: { at: new Date(), step: index, ...event } } },
      { returnDocument: "after" },
    );
    if (!updated) throw new NotFound(`no document ${document._id}`);
    return updated;
  }

  list(collectivity: string, limit = 200): Promise<FlowDocument[]> {
    return this.collection.find({ collectivity }, { projection: { history: 0 } }).sort({ updatedAt: -1 }).limit(limit).toArray();
  }

  /** Documents whose current step has waited to be run longer than `since` (its queueing was lost). */
  stale(since: Date, limit = 100): Promise<FlowDocument[]> {
    return this.collection.find({ state: "running", updatedAt: { $lt: since }, steps: { $elemMatch: { state: "waiting" } } }).limit(limit).toArray();
  }
}
