#!/usr/bin/env node
/**
 * Bundles every service of the services image into one ES module, `dist/services.mjs`, run by
 * plain Node.js: `node dist/services.mjs <service>`. The Dockerfile runs this in its build stage.
 */
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const outfile = process.argv[2] ?? join(root, "dist/services.mjs");

await build({
  entryPoints: [join(root, "services/image/src/entrypoint.ts")],
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  outfile,
  sourcemap: "linked",
  legalComments: "linked",
  // CommonJS packages in an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  // The MongoDB driver's optional integrations (Kerberos, compression, client-side encryption,
  // cloud credentials): not installed, and the driver loads them only when configured. (socks is
  // installed, for the Kubernetes client's proxy support, and bundled.)
  external: ["kerberos", "@mongodb-js/zstd", "snappy", "aws4", "mongodb-client-encryption", "@aws-sdk/credential-providers", "gcp-metadata"],
  logLevel: "warning",
});
process.stdout.write(`bundled the services image's entrypoint into ${outfile}\n`);
