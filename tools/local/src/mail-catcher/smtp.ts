import type { Logger } from "@mutualis/operator";
import { simpleParser, type AddressObject, type EmailAddress, type ParsedMail } from "mailparser";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { MessageStore, NewMessage } from "./store.ts";

export interface SmtpOptions {
  readonly host: string;
  readonly port: number;
  /** The largest message accepted, in bytes; a larger one is refused (552). */
  readonly sizeLimit: number;
  readonly store: MessageStore;
  readonly log: Logger;
}

/** An SMTP reply code smtp-server gives the client. */
class SmtpReply extends Error {
  override name = "SmtpReply";
  constructor(
    message: string,
    readonly responseCode: number,
  ) {
    super(message);
  }
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const flatten = (list: EmailAddress[]): string[] => list.flatMap((a) => (a.group ? flatten(a.group) : a.address ? [a.address] : []));
  return [field ?? []].flat().flatMap((object) => flatten(object.value));
}

/** What the catcher keeps of one received e-mail: its headers, bodies, and its attachments' names and sizes. */
export function caughtMessage(parsed: ParsedMail, recipients: readonly string[], receivedAt: Date): NewMessage {
  return {
    receivedAt: receivedAt.toISOString(),
    recipients,
    from: (parsed.from?.value ?? []).map((a) => (a.name && a.address ? `${a.name} <${a.address}>` : (a.address ?? a.name))).join(", "),
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    subject: parsed.subject ?? "",
    ...(parsed.date && { date: parsed.date.toISOString() }),
    text: parsed.text ?? "",
    ...(parsed.html !== false && { html: parsed.html }),
    attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? "(sans nom)", contentType: a.contentType, size: a.size })),
  };
}

function readMessage(stream: SMTPServerDataStream): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => {
      if (!stream.sizeExceeded) chunks.push(chunk);
    });
    stream.on("end", () => resolve(stream.sizeExceeded ? undefined : Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

/**
 * Accepts every message from anyone, without authentication or TLS: it listens on loopback only,
 * and what it receives is only kept, never delivered.
 */
export async function startSmtp(options: SmtpOptions): Promise<SMTPServer> {
  const { store, log } = options;
  const receive = async (stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> => {
    const raw = await readMessage(stream);
    if (!raw) throw new SmtpReply(`message larger than ${options.sizeLimit} bytes`, 552);
    const recipients = session.envelope.rcptTo.map((r) => r.address);
    const message = await store.add(caughtMessage(await simpleParser(raw), recipients, new Date()));
    // Bodies carry capabilities (share links): the log says only that a message came.
    log.info({ id: message.id, recipients: recipients.length, subject: message.subject }, "message caught");
    return `caught as ${message.id}`;
  };
  const server = new SMTPServer({
    name: "mutualis-mail-catcher",
    banner: "Mutualis mail catcher (local platform): messages are kept, never delivered",
    size: options.sizeLimit,
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    logger: false,
    closeTimeout: 5_000,
    onData(stream, session, callback) {
      receive(stream, session).then(
        (reply) => callback(null, reply),
        (error: unknown) => {
          if (error instanceof SmtpReply) return callback(error);
          log.error({ err: error }, "a message could not be kept");
          callback(new SmtpReply("the message could not be kept", 451));
        },
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => log.error({ err: error }, "SMTP server error"));
  return server;
}
