#!/usr/bin/env -S npx tsx
/** The gateway's process. */
import { ConfigError, createLogger, loadSettings, runService } from "@mutualis/service-kit";
import { gateway, gatewaySettings } from "./service.ts";

try {
  await runService(gateway(), loadSettings(gatewaySettings));
} catch (error) {
  createLogger("gateway", "info").fatal({ err: error instanceof ConfigError ? error.message : error }, "gateway failed to start");
  process.exit(1);
}
