import { pino, type Logger } from "pino";

export type { Logger };

/** JSON logs; fields that may hold secrets are redacted wherever they appear. */
export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["password", "token", "authorization", "creds", "*.password", "*.token", "*.authorization", "*.creds", "req.headers.authorization"],
      censor: "[redacted]",
    },
  });
}
