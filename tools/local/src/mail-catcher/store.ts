import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface CaughtAttachment {
  readonly filename: string;
  readonly contentType: string;
  readonly size: number;
}

/** One e-mail the catcher received, as the web page and the API show it. */
export interface CaughtMessage {
  readonly id: string;
  /** Order of arrival, kept across restarts: the newest message has the highest. */
  readonly sequence: number;
  readonly receivedAt: string;
  /** Whom the sender delivered it to (RCPT TO): the To and Cc addresses, and any Bcc. */
  readonly recipients: readonly string[];
  /** The From header, as text. */
  readonly from: string;
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly subject: string;
  /** The Date header. */
  readonly date?: string;
  readonly text: string;
  readonly html?: string;
  readonly attachments: readonly CaughtAttachment[];
}

export type NewMessage = Omit<CaughtMessage, "id" | "sequence">;

export interface MessageFilter {
  /** Only messages delivered to this address (case does not matter). */
  readonly to?: string;
}

function deliveredTo(message: CaughtMessage, address: string): boolean {
  const wanted = address.toLowerCase();
  return [...message.recipients, ...message.to, ...message.cc].some((a) => a.toLowerCase() === wanted);
}

/** The messages, in memory for reading and one JSON file each on disk so that a restart keeps them. */
export class MessageStore {
  private readonly messages = new Map<string, CaughtMessage>();
  private nextSequence = 1;

  private constructor(private readonly dir: string) {}

  /** Opens the store in `dir`, reading the messages kept there; a file it cannot read is skipped and named. */
  static async open(dir: string, onUnreadable: (file: string) => void = () => {}): Promise<MessageStore> {
    await mkdir(dir, { recursive: true });
    const store = new MessageStore(dir);
    for (const file of await readdir(dir)) {
      if (!file.endsWith(".json")) continue;
      try {
        store.remember(JSON.parse(await readFile(join(dir, file), "utf8")) as CaughtMessage);
      } catch {
        onUnreadable(file);
      }
    }
    return store;
  }

  private remember(message: CaughtMessage): void {
    this.messages.set(message.id, message);
    this.nextSequence = Math.max(this.nextSequence, message.sequence + 1);
  }

  async add(received: NewMessage): Promise<CaughtMessage> {
    const message: CaughtMessage = { id: randomUUID(), sequence: this.nextSequence++, ...received };
    const file = join(this.dir, `${message.id}.json`);
    // Written whole then renamed: a crash mid-write leaves no half message to trip on at restart.
    await writeFile(`${file}.tmp`, JSON.stringify(message, null, 2) + "\n");
    await rename(`${file}.tmp`, file);
    this.remember(message);
    return message;
  }

  /** Newest first. */
  list(filter: MessageFilter = {}): CaughtMessage[] {
    const all = [...this.messages.values()].sort((a, b) => b.sequence - a.sequence);
    return filter.to ? all.filter((m) => deliveredTo(m, filter.to!)) : all;
  }

  get(id: string): CaughtMessage | undefined {
    return this.messages.get(id);
  }

  async clear(): Promise<void> {
    const ids = [...this.messages.keys()];
    this.messages.clear();
    await Promise.all(ids.map((id) => rm(join(this.dir, `${id}.json`), { force: true })));
  }
}
