#!/usr/bin/env node
/**
 * Bundles every service of the services image into ES modules, `dist/services.mjs` and the
 * chunks it loads from `dist/chunks/`, run by plain Node.js: `node dist/services.mjs <service>`.
 * Each service is a chunk of its own, loaded when the entrypoint imports it: a process loads and
 * parses the code of the service it runs (and what that shares), not every service's. The
 * Dockerfile runs this in its build stage.
 */
import { build } from "esbuild";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const outfile = process.argv[2] ?? join(root, "dist/services.mjs");
const outdir = dirname(outfile);
// Chunks of an earlier build would stay beside the new ones.
rmSync(join(outdir, "chunks"), { recursive: true, force: true });

await build({
  entryPoints: [{ in: join(root, "services/image/src/entrypoint.ts"), out: basename(outfile, ".mjs") }],
  bundle: true,
  splitting: true,
  platform: "node",
  target: "node20",
  format: "esm",
  outdir,
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  // Positions only, for stack traces: the sources are in the repository, and a process keeps
  // every map it loads (sourcesContent would hold a second copy of all the code it runs).
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "linked",
  // CommonJS packages in an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  // The MongoDB driver's optional integrations (Kerberos, compression, client-side encryption,
  // cloud credentials): not installed, and the driver loads them only when configured. (socks is
  // installed, for the Kubernetes client's proxy support, and bundled.)
  external: ["kerberos", "@mongodb-js/zstd", "snappy", "aws4", "mongodb-client-encryption", "@aws-sdk/credential-providers", "gcp-metadata"],
  logLevel: "warning",
});

/**
 * One character outside ASCII makes V8 hold a module's whole source as two bytes per character,
 * and every process keeps its modules' sources (the operator's two largest chunks: 9 MiB instead
 * of 4.7). esbuild already escapes strings, identifiers and regular expressions (charset
 * "ascii"); what is left is in comments, where an escape is as good as the character.
 */
for (const dir of [outdir, join(outdir, "chunks")]) {
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".mjs"))) {
    const file = join(dir, name);
    const text = readFileSync(file, "utf8");
    if (/[\u0080-\uffff]/.test(text)) writeFileSync(file, text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  }
}
// Files the services read at run time, beside the chunks that read them: the @ctes XML Schema.
rmSync(join(outdir, "schemas"), { recursive: true, force: true });
cpSync(join(root, "services/actes/schemas"), join(outdir, "schemas/actes"), { recursive: true });
process.stdout.write(`bundled the services image's entrypoint into ${outfile}\n`);
