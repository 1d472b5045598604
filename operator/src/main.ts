#!/usr/bin/env -S npx tsx
/** The operator's process: reads its settings, starts, and stops gracefully on SIGTERM/SIGINT. */
import { loadOperatorConfig, OperatorConfigError } from "./config.ts";
import { startOperator } from "./operator.ts";
import { createLogger } from "./runtime/log.ts";

const log = createLogger("mutualis-operator");

async function main(): Promise<void> {
  const config = loadOperatorConfig();
  const operator = await startOperator(config, log);
  log.info({ port: operator.manager.port, identity: operator.manager.identity }, "operator started");
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "signal received");
    operator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "unclean shutdown");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  if (error instanceof OperatorConfigError) log.fatal(`configuration: ${error.message}`);
  else log.fatal({ err: error }, "operator failed to start");
  process.exit(1);
});
