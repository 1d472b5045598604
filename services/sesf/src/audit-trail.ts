import { isDuplicateKey, type Database } from "@mutualis/service-kit";
import { chain, verifyChain, type AuditEntry } from "./audit.ts";
import type { Clock } from "./share-state.ts";

type Stored = AuditEntry & { _id: string; collectivity: string };


/** Two steps of one share appending at once: one takes the number, the other takes the next. */
const attempts = 100;

/**
 * The shares' audit trails, kept in the database: one hash chain per share. An entry's id is
 * its share and its number, so two steps that compute the same next number cannot both be
 * stored: the second is refused by the database, reads the chain again and appends after the
 * first. No entry is lost and the chain stays whole, however many steps run at once.
 */
export class AuditTrail {
  private readonly collection;

  constructor(
    database: Database,
    private readonly clock: Clock,
  ) {
    this.collection = database.collection<Stored>("audit");
  }

  async append(share: { _id: string; collectivity: string }, event: AuditEntry["event"], detail: AuditEntry["detail"] = {}): Promise<AuditEntry> {
    for (let attempt = 1; ; attempt++) {
      const last = await this.collection.find({ shareId: share._id }).sort({ seq: -1 }).limit(1).next();
      const entry = chain(last ?? undefined, { shareId: share._id, at: this.clock().toISOString(), event, detail });
      try {
        await this.collection.insertOne({ ...entry, _id: `${share._id}:${entry.seq}`, collectivity: share.collectivity });
        return entry;
      } catch (error) {
        if (!isDuplicateKey(error) || attempt >= attempts) throw error;
        // Another step took this number: yield, so that it is readable, and try after it.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** The share's trail in order, and whether its chain is intact. */
  async read(shareId: string): Promise<{ entries: AuditEntry[]; verification: ReturnType<typeof verifyChain> }> {
    const entries = (await this.collection.find({ shareId }).sort({ seq: 1 }).toArray()).map(({ _id, collectivity: _c, ...entry }) => entry as AuditEntry);
    return { entries, verification: verifyChain(entries) };
  }
}
