import { MongoClient, type Collection, type Db, type Document } from "mongodb";
import { Unavailable } from "./errors.ts";

/** The service's database connection; each repository takes one collection of it. */
export class Database {
  private constructor(
    private readonly client: MongoClient,
    readonly db: Db,
  ) {}

  static async connect(uri: string, name: string | undefined, appName: string, ca?: string): Promise<Database> {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000, appName, ...(ca ? { ca } : {}) });
    try {
      await client.connect();
    } catch (error) {
      throw new Unavailable("the database cannot be reached", { cause: error });
    }
    return new Database(client, client.db(name));
  }

  collection<T extends Document>(name: string): Collection<T> {
    return this.db.collection<T>(name);
  }

  async ping(): Promise<boolean> {
    try {
      await this.db.command({ ping: 1 }, { timeoutMS: 2000 });
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * A repository over one collection. A shared deployment serves several collectivities, so a
 * repository's queries take the collectivity and filter on it: one tenant never reads another's.
 */
export abstract class Repository<T extends Document> {
  protected readonly collection: Collection<T>;

  constructor(database: Database, collection: string) {
    this.collection = database.collection<T>(collection);
  }
}

/**
 * An upsert that two callers may race: the one whose insert loses gets a duplicate key error,
 * after which the document exists, so its write is made again, as an update.
 */
export async function racingUpsert<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    return write();
  }
}

/** MongoDB's (and FerretDB's) duplicate key error: the one write a unique id lets in once refused another. */
export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: number }).code === 11000;
}
