import { pino, type Logger as PinoLogger } from "pino";

export type Logger = PinoLogger;

/**
 * Structured JSON logs on stdout. Fields that could carry secrets are redacted wherever they
 * appear, so a creds file or a password never reaches a log line by accident.
 */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    name,
    level,
    base: { component: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["*.creds", "*.seed", "*.password", "*.token", "*.data", "*.stringData", "creds", "seed", "password", "token"],
      censor: "[redacted]",
    },
  });
}
