import { Binary } from "mongodb";
import { Repository, type Database } from "@mutualis/service-kit";

interface StoredDocument {
  _id: string;
  collectivity: string;
  actId: string;
  rank: number;
  content: Binary;
}

/** The PDFs of acts: rank 1 is the act itself, the annexes follow. */
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

  async load(collectivity: string, actId: string): Promise<Uint8Array[]> {
    const documents = await this.collection.find({ collectivity, actId }).sort({ rank: 1 }).toArray();
    return documents.map((d) => d.content.buffer);
  }
}
