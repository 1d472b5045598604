#!/usr/bin/env -S npx tsx
/** The prefecture simulator's process. */
import { ConfigError, createLogger, loadSettings, runService } from "@mutualis/service-kit";
import { prefectureSimulator, simulatorSettings } from "./service.ts";

try {
  await runService(prefectureSimulator(), loadSettings(simulatorSettings));
} catch (error) {
  createLogger("prefecture-simulator", "info").fatal({ err: error instanceof ConfigError ? error.message : error }, "failed to start");
  process.exit(1);
}
