import nodemailer, { type Transporter } from "nodemailer";
import type SMTPTransport from "nodemailer/lib/smtp-transport/index.js";
import type { BaseSettings } from "./config.ts";
import { InvalidRequest, Unavailable } from "./errors.ts";
import type { Logger } from "./log.ts";

/** An e-mail a service sends: French plain text, which every client shows, and optionally HTML. */
export interface MailMessage {
  readonly to: string | readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
}

/** What became of an e-mail: sent (with what the relay accepted), or not sent because no relay is configured. */
export type MailResult =
  | { readonly sent: true; readonly messageId: string; readonly accepted: readonly string[]; readonly rejected: readonly string[] }
  | { readonly sent: false; readonly reason: "not-configured" };

export interface MailerOptions {
  /** The relay (settings' SMTP_URL). Without it nothing is sent, and a warning says so. */
  readonly url?: string;
  /** The sender, e.g. `Mutualis <no-reply@mutualis.example>` (settings' MAIL_FROM). */
  readonly from: string;
  readonly log: Logger;
}

/** A relay that does not answer must not hold a request for minutes (nodemailer waits up to 10 minutes). */
const timeouts = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

function addressOf(address: string | { address: string }): string {
  return typeof address === "string" ? address : address.address;
}

/** Sends a service's e-mail through the platform's SMTP relay. */
export class Mailer {
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo> | undefined;

  constructor(private readonly options: MailerOptions) {
    this.transport = options.url ? nodemailer.createTransport({ url: options.url, ...timeouts }) : undefined;
  }

  static fromSettings(settings: Pick<BaseSettings, "SMTP_URL" | "MAIL_FROM">, log: Logger): Mailer {
    return new Mailer({ url: settings.SMTP_URL, from: settings.MAIL_FROM, log });
  }

  /**
   * Sends one e-mail. Without a relay it resolves `{ sent: false }` rather than failing the
   * request that asked for it; a relay that cannot be reached or refuses the message is
   * `Unavailable`.
   */
  async send(message: MailMessage): Promise<MailResult> {
    const to = typeof message.to === "string" ? [message.to] : [...message.to];
    if (to.length === 0) throw new InvalidRequest("an e-mail needs at least one recipient");
    // Bodies carry capabilities (share links, invitations) and addresses are personal data:
    // logs say how many recipients and what subject, nothing more.
    const about = { recipients: to.length, subject: message.subject };
    if (!this.transport) {
      this.options.log.warn(about, "SMTP_URL is not set: the e-mail was not sent");
      return { sent: false, reason: "not-configured" };
    }
    let info: SMTPTransport.SentMessageInfo;
    try {
      info = await this.transport.sendMail({
        from: this.options.from,
        to,
        subject: message.subject,
        text: message.text,
        ...(message.html !== undefined && { html: message.html }),
      });
    } catch (error) {
      this.options.log.warn({ ...about, code: (error as { code?: string }).code }, "the e-mail could not be sent");
      throw new Unavailable("the e-mail could not be sent", { cause: error });
    }
    const rejected = info.rejected.map(addressOf);
    this.options.log.info({ ...about, rejected: rejected.length }, "e-mail sent");
    return { sent: true, messageId: info.messageId, accepted: info.accepted.map(addressOf), rejected };
  }

  /** Closes the relay's connections, if any are open. */
  close(): void {
    this.transport?.close();
  }
}
