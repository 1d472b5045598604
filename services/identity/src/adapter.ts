import type { Adapter, AdapterPayload } from "oidc-provider";
import type { Collection } from "mongodb";
import type { Database } from "@mutualis/service-kit";

interface Stored {
  _id: string;
  payload: AdapterPayload;
  expiresAt?: Date;
  grantId?: string;
  userCode?: string;
  uid?: string;
}

/**
 * Where oidc-provider keeps sessions, interactions, codes, grants and tokens: the identity's
 * database, one collection per kind, so every replica sees the same sign-ins. Expired records are
 * ignored when read and swept every few minutes.
 */
export function mongoAdapter(database: Database): { adapter: new (name: string) => Adapter; sweep: () => Promise<number>; ensureIndexes: () => Promise<void> } {
  const collections = new Map<string, Collection<Stored>>();
  const collectionFor = (name: string) => {
    let collection = collections.get(name);
    if (!collection) {
      collection = database.collection<Stored>(`oidc_${name.toLowerCase()}`);
      collections.set(name, collection);
    }
    return collection;
  };
  const live = (record: Stored | null): AdapterPayload | undefined => {
    if (!record) return undefined;
    if (record.expiresAt && record.expiresAt.getTime() <= Date.now()) return undefined;
    return record.payload;
  };

  class MongoAdapter implements Adapter {
    private readonly collection: Collection<Stored>;
    constructor(name: string) {
      this.collection = collectionFor(name);
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const record: Stored = {
        _id: id,
        payload,
        ...(expiresIn ? { expiresAt: new Date(Date.now() + expiresIn * 1000) } : {}),
        ...(payload.grantId ? { grantId: payload.grantId } : {}),
        ...(payload.userCode ? { userCode: payload.userCode } : {}),
        ...(payload.uid ? { uid: payload.uid } : {}),
      };
      await this.collection.replaceOne({ _id: id }, record, { upsert: true });
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      return live(await this.collection.findOne({ _id: id }));
    }
    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return live(await this.collection.findOne({ userCode }));
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return live(await this.collection.findOne({ uid }));
    }
    async consume(id: string): Promise<void> {
      await this.collection.updateOne({ _id: id }, { $set: { "payload.consumed": Math.floor(Date.now() / 1000) } });
    }
    async destroy(id: string): Promise<void> {
      await this.collection.deleteOne({ _id: id });
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      await this.collection.deleteMany({ grantId });
    }
  }

  const kinds = ["Session", "Interaction", "AuthorizationCode", "RefreshToken", "AccessToken", "ClientCredentials", "DeviceCode", "Grant", "ReplayDetection"];
  return {
    adapter: MongoAdapter,
    async ensureIndexes() {
      for (const kind of kinds) {
        const collection = collectionFor(kind);
        await collection.createIndex({ grantId: 1 });
        await collection.createIndex({ expiresAt: 1 });
      }
      await collectionFor("Session").createIndex({ uid: 1 });
      await collectionFor("DeviceCode").createIndex({ userCode: 1 });
    },
    async sweep() {
      let removed = 0;
      for (const kind of kinds) removed += (await collectionFor(kind).deleteMany({ expiresAt: { $lte: new Date() } })).deletedCount;
      return removed;
    },
  };
}
