import { Binary } from "mongodb";
import { racingUpsert, Repository, type Database, type ObjectFiles, type StoredObject } from "@mutualis/service-kit";
import type { FileContent } from "./domain/transmission.ts";

/** A file kept here, or, when it was uploaded in parts, in the object store (a MongoDB document holds 16 MiB at most). */
interface StoredDocument {
  _id: string;
  collectivity: string;
  actId: string;
  rank: number;
  content?: Binary;
  object?: StoredObject;
}

/** The files of acts: rank 1 is the act itself, the annexes follow; rank 0, the files of the exchanges with the prefecture. */
export class DocumentRepository extends Repository<StoredDocument> {
  constructor(database: Database) {
    super(database, "documents");
  }

  async store(collectivity: string, actId: string, files: readonly (Uint8Array | StoredObject)[]): Promise<void> {
    if (files.length === 0) return;
    await this.collection.insertMany(
      files.map((file, i) => ({
        _id: `${actId}/${i + 1}`,
        collectivity,
        actId,
        rank: i + 1,
        ...(file instanceof Uint8Array ? { content: new Binary(file) } : { object: file }),
      })),
    );
  }

  /** The act's own files, in rank order (the messages of the exchanges are not among them); those of the object store are read when needed. */
  async load(collectivity: string, actId: string, objects: ObjectFiles): Promise<FileContent[]> {
    const documents = await this.collection.find({ collectivity, actId, rank: { $gt: 0 } }).sort({ rank: 1 }).toArray();
    return documents.map((d) => {
      const object = d.object;
      if (!object) return d.content!.buffer;
      return { size: object.size, read: () => objects.read(object.nuid, object.chunks) };
    });
  }

  /**
   * Keeps a file of the exchanges about an act (an envelope, a message, a letter) under its @ctes
   * name, in the folder of the envelope it travelled in, which no other message has (when it had
   * none, under its name alone); storing it again changes nothing.
   */
  async keepExchangeFile(collectivity: string, actId: string, envelope: string | undefined, name: string, content: Uint8Array): Promise<void> {
    const folder = envelope ? `${envelope.replace(/\.xml$/, "")}/` : "";
    await racingUpsert(() =>
      this.collection.updateOne(
        { _id: `${actId}/exchanges/${folder}${name}` },
        { $setOnInsert: { collectivity, actId, rank: 0, content: new Binary(content) } },
        { upsert: true },
      ),
    );
  }
}
