import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { PlatformConfig } from "./config.ts";
import { layout } from "./layout.ts";

/**
 * The services image's bundle (the operator and every service, one ES module run by plain
 * Node.js), built from this checkout by the script the image's build stage runs. The local
 * platform and the benchmarks run the operator from it, compiled as it ships, not through a
 * TypeScript loader. Built again at each start: esbuild takes a few seconds.
 */
export function buildServicesBundle(config: PlatformConfig): string {
  const out = join(layout(config).bundle, "services.mjs");
  execFileSync(process.execPath, [join(config.root, "services/image/scripts/bundle.mjs"), out], { cwd: config.root, stdio: ["ignore", "ignore", "pipe"] });
  return out;
}

/** Where the bundle is, whether or not it is built yet. */
export function servicesBundle(config: PlatformConfig): string {
  return join(layout(config).bundle, "services.mjs");
}
