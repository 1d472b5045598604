import { randomUUID } from "node:crypto";
import { isDuplicateKey, type Database } from "@mutualis/service-kit";
import type { Clock } from "./share-state.ts";

/** One download started by a recipient: allowed (under the limit) or refused over it. */
interface Attempt {
  _id: string;
  shareId: string;
  email: string;
  fileId: string;
  at: Date;
  allowed: boolean;
  /** The whole file was sent. */
  completed?: boolean;
}

/** A recipient's downloads of a file as counted before attempts had documents of their own. */
interface Counted {
  _id: string;
  shareId: string;
  email: string;
  fileId: string;
  count: number;
  completed?: number;
}


/**
 * The recipients' downloads, each its own document. Under a download limit the n-th allowed
 * download of a file by a recipient has the id …:n, so the database's unique key lets exactly
 * `limit` of them in, however many start at once (an update of a counter would not do: FerretDB
 * rewrites a whole document from what it read, and loses one of two updates made at once).
 */
export class DownloadLedger {
  private readonly attempts;
  private readonly counted;

  constructor(
    database: Database,
    private readonly clock: Clock,
  ) {
    this.attempts = database.collection<Attempt>("download_attempts");
    this.counted = database.collection<Counted>("downloads");
  }

  /** Counts a download before its first byte: its id, or undefined when it is over the limit (counted as a refused attempt). */
  async start(shareId: string, email: string, fileId: string, limit: number | undefined): Promise<string | undefined> {
    const key = `${shareId}:${email}:${fileId}`;
    const attempt = { shareId, email, fileId, at: this.clock() };
    if (!limit) {
      const id = `${key}:${randomUUID()}`;
      await this.attempts.insertOne({ _id: id, ...attempt, allowed: true });
      return id;
    }
    const before = (await this.counted.findOne({ _id: key }))?.count ?? 0;
    for (let n = before + 1; n <= limit; n++) {
      try {
        await this.attempts.insertOne({ _id: `${key}:${n}`, ...attempt, allowed: true });
        return `${key}:${n}`;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
    }
    await this.attempts.insertOne({ _id: `${key}:refused:${randomUUID()}`, ...attempt, allowed: false });
    return undefined;
  }

  async complete(id: string): Promise<void> {
    await this.attempts.updateOne({ _id: id }, { $set: { completed: true } });
  }

  /** Per recipient: downloads completed, and attempts (started, refused over the limit included). */
  async perRecipient(share: { _id: string; recipients: { email: string }[] }): Promise<{ recipient: string; count: number; attempts: number }[]> {
    const [attempts, counted] = await Promise.all([this.attempts.find({ shareId: share._id }).toArray(), this.counted.find({ shareId: share._id }).toArray()]);
    return share.recipients.map((r) => ({
      recipient: r.email,
      count: attempts.filter((a) => a.email === r.email && a.completed).length + counted.filter((d) => d.email === r.email).reduce((sum, d) => sum + (d.completed ?? 0), 0),
      attempts: attempts.filter((a) => a.email === r.email).length + counted.filter((d) => d.email === r.email).reduce((sum, d) => sum + d.count, 0),
    }));
  }

  /** Every active recipient has downloaded every served file as many times as allowed. */
  async exhausted(shareId: string, recipients: string[], fileIds: string[], limit: number): Promise<boolean> {
    const [attempts, counted] = await Promise.all([this.attempts.find({ shareId, allowed: true }).toArray(), this.counted.find({ shareId }).toArray()]);
    const count = (email: string, fileId: string) =>
      attempts.filter((a) => a.email === email && a.fileId === fileId).length + (counted.find((d) => d.email === email && d.fileId === fileId)?.count ?? 0);
    return recipients.every((email) => fileIds.every((fileId) => count(email, fileId) >= limit));
  }
}
