import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@mutualis/operator";
import type { SMTPServer } from "smtp-server";
import { startSmtp } from "./smtp.ts";
import { MessageStore } from "./store.ts";
import { startWeb } from "./web.ts";

export interface MailCatcherOptions {
  /** Where the messages are kept, one JSON file each. */
  readonly dataDir: string;
  /** @default 0 (a free port) */
  readonly smtpPort?: number;
  /** @default 0 (a free port) */
  readonly webPort?: number;
  /** The largest message accepted, in bytes. @default 10 MiB */
  readonly sizeLimit?: number;
  readonly log: Logger;
}

export interface MailCatcher {
  /** Where to send: `smtp://127.0.0.1:<port>`. */
  readonly smtpUrl: string;
  /** Where to read: `http://127.0.0.1:<port>`. */
  readonly webUrl: string;
  stop(): Promise<void>;
}

/** Both servers listen on loopback only: the catcher has no authentication and shows what it holds to anyone. */
const loopback = "127.0.0.1";

function portOf(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port;
}

function closeSmtp(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => server.close(resolve));
}

function closeWeb(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

/**
 * The local platform's mail catcher: an SMTP server that keeps every message it receives, and a
 * web server to read them. SMTP listens first, so that a catcher whose web side answers takes mail.
 */
export async function startMailCatcher(options: MailCatcherOptions): Promise<MailCatcher> {
  const { log } = options;
  const store = await MessageStore.open(options.dataDir, (file) => log.warn({ file }, "a kept message could not be read: skipped"));
  const smtp = await startSmtp({ host: loopback, port: options.smtpPort ?? 0, sizeLimit: options.sizeLimit ?? 10 * 1024 * 1024, store, log });
  let web: Server;
  try {
    web = await startWeb({ host: loopback, port: options.webPort ?? 0, store, log });
  } catch (error) {
    await closeSmtp(smtp);
    throw error;
  }
  return {
    smtpUrl: `smtp://${loopback}:${portOf(smtp.server)}`,
    webUrl: `http://${loopback}:${portOf(web)}`,
    stop: async () => {
      await Promise.all([closeSmtp(smtp), closeWeb(web)]);
    },
  };
}
