import { rmSync } from "node:fs";
import { resolve } from "node:path";
import type { TestProject } from "vitest/node";
import { down, loadConfig, up } from "@mutualis/local-platform";
import { testPlatformEnv } from "./platform.ts";

/**
 * Starts a throw-away local platform for the integration tests and stops it afterwards.
 * Set MUTUALIS_KEEP_TEST_PLATFORM=1 to leave it running for a look after the tests.
 */
export default async function setup(project: TestProject) {
  const env = testPlatformEnv();
  const config = loadConfig(env);
  // A test platform left running (MUTUALIS_KEEP_TEST_PLATFORM, or an interrupted run) goes first.
  await down(config);
  rmSync(resolve(config.dir), { recursive: true, force: true });
  console.log(`test platform: starting in ${config.dir}`);
  await up(config, (line) => console.log(`test platform: ${line.trim()}`));
  project.provide("platformDir", config.dir);
  return async () => {
    if (process.env.MUTUALIS_KEEP_TEST_PLATFORM === "1") return;
    await down(config);
    // Its stores hold gigabytes after a run (the large files' tests): a machine running the
    // suite again and again must not fill its disk.
    rmSync(resolve(config.dir), { recursive: true, force: true });
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    platformDir: string;
  }
}
