import { Binary } from "mongodb";
import { Repository, type Database } from "@mutualis/service-kit";

interface StoredDocument {
  _id: string;
  collectivity: string;
  actId: string;
  rank: number;
  content: Binary;
}

/** The files of acts: rank 1 is the act itself, the annexes follow; rank 0, the files of the exchanges with the prefecture. */
export class DocumentRepository extends Repository<StoredDocument> {
  constructor(database: Database) {
    super(database, "documents");
  }

  async store(collectivity: string, actId: string, files: readonly Uint8Array[]): Promise<void> {
    if (files.length === 0) return;
    await this.collection.insertMany(
      files.map((content, i) => ({ _id: `${actId}/${i + 1}`, collectivity, actId, rank: i + 1, content: new Binary(content) })),
    );
  }

  /** The act's own files, in rank order (the messages of the exchanges are not among them). */
  async load(collectivity: string, actId: string): Promise<Uint8Array[]> {
    const documents = await this.collection.find({ collectivity, actId, rank: { $gt: 0 } }).sort({ rank: 1 }).toArray();
    return documents.map((d) => d.content.buffer);
  }

  /**
   * Keeps a file of the exchanges about an act (an envelope, a message, a letter) under its @ctes
   * name, in the folder of the envelope it travelled in, which no other message has (when it had
   * none, under its name alone); storing it again changes nothing.
   */
  async keepExchangeFile(collectivity: string, actId: string, envelope: string | undefined, name: string, content: Uint8Array): Promise<void> {
    const folder = envelope ? `${envelope.replace(/\.xml$/, "")}/` : "";
    await this.collection.updateOne(
      { _id: `${actId}/exchanges/${folder}${name}` },
      { $setOnInsert: { collectivity, actId, rank: 0, content: new Binary(content) } },
      { upsert: true },
    );
  }


}
