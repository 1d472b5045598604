#!/usr/bin/env -S npx tsx
/**
 * The local mail catcher's process: `make up` starts it (see components.ts) with
 * MAIL_CATCHER_SMTP_PORT, MAIL_CATCHER_WEB_PORT and MAIL_CATCHER_DATA_DIR; MAIL_CATCHER_SIZE_LIMIT
 * (bytes) is optional.
 */
import { createLogger } from "@mutualis/operator";
import { startMailCatcher } from "./catcher.ts";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`mail catcher: ${name} is required\n`);
    process.exit(1);
  }
  return value;
}

function port(name: string): number {
  const value = Number(required(name));
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    process.stderr.write(`mail catcher: ${name} must be a TCP port\n`);
    process.exit(1);
  }
  return value;
}

const log = createLogger("mail-catcher");
const catcher = await startMailCatcher({
  smtpPort: port("MAIL_CATCHER_SMTP_PORT"),
  webPort: port("MAIL_CATCHER_WEB_PORT"),
  dataDir: required("MAIL_CATCHER_DATA_DIR"),
  sizeLimit: process.env.MAIL_CATCHER_SIZE_LIMIT ? Number(process.env.MAIL_CATCHER_SIZE_LIMIT) : undefined,
  log,
});
log.info({ smtp: catcher.smtpUrl, web: catcher.webUrl }, "catching mail");
const stop = () => catcher.stop().then(() => process.exit(0), () => process.exit(1));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
