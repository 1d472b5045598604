#!/usr/bin/env -S npx tsx
/**
 * The services image's entrypoint: `services <name>` runs that service's process. The local node
 * agent runs this same file for the pods it hosts, so a pod runs what the image would.
 */
import { imageServices, unknownServiceExitCode } from "./services.ts";

const name = process.argv[2];
const start = name ? imageServices[name] : undefined;
if (!start) {
  process.stderr.write(
    `${name ? `unknown service "${name}"` : "no service named"}: this image runs ${Object.keys(imageServices).sort().join(", ")}\n`,
  );
  process.exit(unknownServiceExitCode);
}
// Stack traces name the TypeScript sources, however the image is run (the Dockerfile's command,
// the local platform, the benchmarks): one setting, so what is measured is what ships. The maps
// hold positions only, not the sources (bundle.mjs), which would double the code a process keeps.
process.setSourceMapsEnabled(true);
await start();
