import { maxArchiveBytes } from "@mutualis/actes";
import { Conflict, handedFile, NotFound, racingUpsert, Repository, type Database, type StoredObject } from "@mutualis/service-kit";
import { z } from "zod";

/** What the actes service sends to publish an acknowledged act: its @ctes data and its file, delivered in chunks before. */
export const publicationRequest = z.object({
  actId: z.uuid(),
  identifier: z.string().min(1).max(100),
  numeroInterne: z.string().min(1).max(15),
  nature: z.number().int().min(1).max(6),
  classification: z.string().regex(/^[0-9](\.[0-9]{1,2}){0,4}$/),
  /** The level-1 and level-2 names of the act's matière in the collectivity's classification. */
  matiere: z.tuple([z.string().min(1).max(300), z.string().min(1).max(300)]).optional(),
  objet: z.string().min(1).max(500),
  date: z.iso.date(),
  /** The day the prefecture acknowledged it (in Paris), for an act it controls. */
  acknowledgedOn: z.iso.date().optional(),
  controlled: z.boolean(),
  author: z.object({ name: z.string().min(1).max(200), role: z.string().max(200).optional() }).optional(),
  /** The file, the first time; an act published before its acknowledgement is then sent again without it, with the acknowledgement. */
  file: handedFile(maxArchiveBytes)
    .extend({ fileName: z.string().min(1).max(255), mimeType: z.enum(["application/pdf", "application/xml"]) })
    .optional(),
});

export type PublicationRequest = z.infer<typeof publicationRequest>;

/** A published act: what its public page shows, its file in the object store. */
export interface Publication extends Omit<PublicationRequest, "file" | "actId"> {
  _id: string;
  collectivity: string;
  publishedAt: Date;
  file: { fileName: string; mimeType: string; size: number; sha256: string; object: StoredObject };
  /** Taken off the public pages by an administrator: when, by whom, why. The page says so. */
  withdrawn?: { at: Date; by: string; reason: string };
}

/** The acts published, always read for one collectivity, or for the whole region's open data. */
export class PublicationRepository extends Repository<Publication> {
  constructor(database: Database) {
    super(database, "publications");
  }

  /** Stores a publication once: the same act published again keeps its first publication. */
  async publish(publication: Publication): Promise<Publication> {
    await racingUpsert(() => this.collection.updateOne({ _id: publication._id }, { $setOnInsert: publication }, { upsert: true }));
    return (await this.collection.findOne({ _id: publication._id }))!;
  }

  async find(collectivity: string, id: string): Promise<Publication | null> {
    return this.collection.findOne({ _id: id, collectivity });
  }

  /** An act published before the prefecture acknowledged it: the day it did, once. */
  async acknowledged(collectivity: string, id: string, acknowledgedOn: string): Promise<Publication> {
    await this.collection.updateOne({ _id: id, collectivity, acknowledgedOn: { $exists: false } }, { $set: { acknowledgedOn } });
    return this.get(collectivity, id);
  }

  async get(collectivity: string, id: string): Promise<Publication> {
    const found = await this.collection.findOne({ _id: id, collectivity });
    if (!found) throw new NotFound(`aucun acte publié ${id} pour ${collectivity}`);
    return found;
  }

  /**
   * The collectivity's publications, newest first, filtered by text in the subject or number, by
   * nature and by the act's date; withdrawn ones are listed too (their page says why).
   */
  search(collectivity: string, filter: { text?: string; nature?: number; from?: string; to?: string } = {}, limit = 200): Promise<Publication[]> {
    const query: Record<string, unknown> = { collectivity };
    if (filter.nature) query.nature = filter.nature;
    if (filter.from || filter.to) query.date = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lte: filter.to } : {}) };
    if (filter.text) {
      const pattern = new RegExp(filter.text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i");
      query.$or = [{ objet: pattern }, { numeroInterne: pattern }, { identifier: pattern }];
    }
    return this.collection.find(query).sort({ publishedAt: -1 }).limit(limit).toArray();
  }

  /** The délibérations online (not withdrawn), of one collectivity or of all, oldest first. */
  deliberations(collectivity?: string): Promise<Publication[]> {
    return this.collection
      .find({ ...(collectivity ? { collectivity } : {}), nature: 1, withdrawn: { $exists: false } })
      .sort({ date: 1, numeroInterne: 1 })
      .toArray();
  }

  /** The publications whose file has this SHA-256, withdrawn ones included (the check says so). */
  byHash(sha256: string): Promise<Publication[]> {
    return this.collection.find({ "file.sha256": sha256 }).sort({ publishedAt: 1 }).limit(20).toArray();
  }

  async collectivities(): Promise<string[]> {
    return (await this.collection.distinct("collectivity")).sort();
  }

  async withdraw(collectivity: string, id: string, by: string, reason: string, at: Date): Promise<Publication> {
    const publication = await this.get(collectivity, id);
    if (publication.withdrawn) throw new Conflict(`l'acte ${publication.identifier} a déjà été retiré le ${publication.withdrawn.at.toISOString().slice(0, 10)}`);
    const done = await this.collection.findOneAndUpdate({ _id: id, collectivity, withdrawn: { $exists: false } }, { $set: { withdrawn: { at, by, reason } } }, { returnDocument: "after" });
    if (!done) throw new Conflict(`l'acte ${publication.identifier} vient d'être retiré`);
    return done;
  }
}
