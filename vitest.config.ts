import { defineConfig } from "vitest/config";

/** Unit tests: pure logic, beside their source, fast. */
export default defineConfig({
  test: {
    include: ["**/src/**/*.test.ts"],
    exclude: ["**/node_modules/**", ".local/**"],
    testTimeout: 20_000,
  },
});
