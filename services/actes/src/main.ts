#!/usr/bin/env -S npx tsx
/** The actes service's process. */
import { ConfigError, createLogger, loadSettings, runService } from "@mutualis/service-kit";
import { actesService } from "./service.ts";
import { actesSettings } from "./settings.ts";

try {
  await runService(actesService(), loadSettings(actesSettings));
} catch (error) {
  createLogger("actes", "info").fatal({ err: error instanceof ConfigError ? error.message : error }, "actes failed to start");
  process.exit(1);
}
