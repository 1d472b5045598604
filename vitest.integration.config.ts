import { defineConfig } from "vitest/config";

/**
 * Integration tests: against real servers. The global setup starts a local platform of its
 * own (its own ports and directory), so a platform started with `make up` is left alone.
 */
export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/support/global-setup.ts"],
    // The files share one platform and some of them restart its servers: one at a time.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 300_000,
    reporters: ["default"],
  },
});
