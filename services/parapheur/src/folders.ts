import { Conflict, NotFound, Repository, type Database, type StoredObject } from "@mutualis/service-kit";
import type { CircuitDefinition, Progress, StepAction } from "./domain/circuit.ts";
import type { SignatureFormat } from "./domain/typology.ts";

/** A stored version of a document, or a detached signature: where it is and its hash. */
export interface StoredFile {
  readonly object: StoredObject;
  readonly size: number;
  readonly sha256: string;
}

/** One signature given to a document: by whom, with which certificate, and what it produced. */
export interface DocumentSignature {
  readonly by: string;
  readonly commonName: string;
  /** The role the signer signs in, as their certificate names it. */
  readonly title?: string;
  readonly certificate: string;
  readonly at: Date;
  readonly format: Exclude<SignatureFormat, "AUTO">;
  /** The document signed (PAdES, XAdES), or the signature beside it (CAdES). */
  readonly file: StoredFile;
  readonly kind: "signature" | "seal";
}

export interface FolderDocument {
  readonly name: string;
  readonly mimeType: string;
  readonly original: StoredFile;
  /** Its last signed version, for a format that signs inside the document. */
  readonly latest?: StoredFile;
  readonly signatures: readonly DocumentSignature[];
}

/** A line of a folder's history: everything done to it, by whom, when; never changed afterwards. */
export interface HistoryEntry {
  readonly at: Date;
  readonly by: string;
  readonly action: "created" | "started" | "retrieved" | StepAction["kind"];
  readonly step?: number;
  readonly desk?: string;
  readonly delegate?: string;
  readonly reason?: string;
  /** For a transfer or a second opinion: the desk it went to. */
  readonly to?: string;
  readonly certificate?: string;
  /** The folder's state after it. */
  readonly state: string;
  /** For a signature or seal: the SHA-256 of what it produced, per document. */
  readonly hashes?: readonly string[];
}

export interface Folder {
  _id: string;
  collectivity: string;
  name: string;
  type: string;
  subtype: string;
  protocol: "ACTES" | "HELIOS" | "NONE";
  signatureFormat: SignatureFormat;
  /** The desk that sent it and the person who made it. */
  emitter: { desk: string; by: string };
  /** The circuit as it was when the folder was made: changing the subtype later does not move it. */
  circuit: CircuitDefinition;
  progress: Progress;
  /** The desks the current step still waits for: what a desk's list of folders to act on is made from. */
  waitingFor: string[];
  /** Every desk the folder passes, and its emitter's: who may see it. */
  desks: string[];
  documents: FolderDocument[];
  metadata: Record<string, string>;
  /** The day it is due (Europe/Paris), if any: past it, a pending folder is late. */
  dueDate?: string;
  history: HistoryEntry[];
  createdAt: Date;
  updatedAt: Date;
  finishedAt?: Date;
  /** The flow that sent it (a document of the flows service at one of its steps), told when the folder ends. */
  flow?: { document: string; step: number; signalled?: boolean };
  /** Incremented by each change: two changes made at once, one is refused. */
  version: number;
}

export class FolderRepository extends Repository<Folder> {
  constructor(database: Database) {
    super(database, "folders");
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ collectivity: 1, waitingFor: 1 });
    await this.collection.createIndex({ collectivity: 1, desks: 1, updatedAt: -1 });
    await this.collection.createIndex({ collectivity: 1, "emitter.by": 1, updatedAt: -1 });
  }

  async insert(folder: Folder): Promise<void> {
    await this.collection.insertOne(folder);
  }

  async require(collectivity: string, id: string): Promise<Folder> {
    const folder = await this.collection.findOne({ _id: id, collectivity });
    if (!folder) throw new NotFound(`no folder ${id} in collectivity ${collectivity}`);
    return folder;
  }

  /** Writes a change made from `folder` as read: refused when someone changed it meanwhile. */
  async save(folder: Folder, change: Partial<Omit<Folder, "_id" | "collectivity" | "version">>): Promise<Folder> {
    const updated = await this.collection.findOneAndUpdate(
      { _id: folder._id, collectivity: folder.collectivity, version: folder.version },
      { $set: { ...change, updatedAt: new Date() }, $inc: { version: 1 } },
      { returnDocument: "after" },
    );
    if (!updated) throw new Conflict(`folder ${folder._id} changed meanwhile: read it again`);
    return updated;
  }

  /** The folders waiting for these desks, oldest first. */
  waitingFor(collectivity: string, desks: readonly string[], limit = 200): Promise<Folder[]> {
    return this.collection.find({ collectivity, waitingFor: { $in: [...desks] } }, { projection: { history: 0 } }).sort({ createdAt: 1 }).limit(limit).toArray();
  }

  /** The folders a person made, latest first. */
  startedBy(collectivity: string, email: string, limit = 200): Promise<Folder[]> {
    return this.collection.find({ collectivity, "emitter.by": email }, { projection: { history: 0 } }).sort({ updatedAt: -1 }).limit(limit).toArray();
  }

  /** Folders of flows that ended and whose flow has not been told yet. */
  unsignalled(limit = 100): Promise<Folder[]> {
    return this.collection.find({ "flow.signalled": false, "progress.state": { $in: ["FINISHED", "REJECTED"] } }, { projection: { history: 0 } }).limit(limit).toArray();
  }

  async signalled(collectivity: string, id: string): Promise<void> {
    await this.collection.updateOne({ _id: id, collectivity }, { $set: { "flow.signalled": true } });
  }

  /** A folder by its id, if it exists. */
  find(collectivity: string, id: string): Promise<Folder | null> {
    return this.collection.findOne({ _id: id, collectivity });
  }

  /** Every folder of the collectivity (its administrators' view), latest first. */
  all(collectivity: string, limit = 500): Promise<Folder[]> {
    return this.collection.find({ collectivity }, { projection: { history: 0 } }).sort({ updatedAt: -1 }).limit(limit).toArray();
  }
}

/** Desks and types, per collectivity, each a document under `<collectivity>/<id>`. */
export class DefinitionRepository<T extends { id: string }> extends Repository<{ _id: string; collectivity: string; definition: T; updatedAt: Date; updatedBy: string }> {
  async save(collectivity: string, definition: T, by: string): Promise<void> {
    await this.collection.replaceOne({ _id: `${collectivity}/${definition.id}` }, { collectivity, definition, updatedAt: new Date(), updatedBy: by }, { upsert: true });
  }

  async find(collectivity: string, id: string): Promise<T | undefined> {
    return (await this.collection.findOne({ _id: `${collectivity}/${id}` }))?.definition;
  }

  async list(collectivity: string): Promise<T[]> {
    return (await this.collection.find({ collectivity }).sort({ _id: 1 }).limit(1000).toArray()).map((d) => d.definition);
  }
}
