#!/usr/bin/env -S npx tsx
/** The ProConnect simulator's process: settings from the environment, stopped gracefully on SIGTERM or SIGINT. */
import { ConfigError, createLogger, loadSettings } from "@mutualis/service-kit";
import { proconnectSimulator } from "./service.ts";
import { proconnectSettings } from "./settings.ts";

try {
  const simulator = await proconnectSimulator(loadSettings(proconnectSettings)).start();
  const shutdown = (signal: string) => {
    simulator.log.info({ signal }, "signal received");
    simulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        simulator.log.error({ err: error }, "unclean shutdown");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
} catch (error) {
  // A bad setting is named, never its value (clients carry their secrets).
  createLogger("proconnect-simulator", "info").fatal({ err: error instanceof ConfigError ? error.message : error }, "proconnect-simulator failed to start");
  process.exit(1);
}
