/**
 * `make synth`: writes the hosting lot's manifests, one directory per profile
 * (cdk8s/dist/production, cdk8s/dist/local), one file per layer, applied in name order.
 * `--out DIR` writes elsewhere; profile names as arguments synthesise only those.
 */
import { resolve } from "node:path";
import { synthesizeLot } from "./lot.ts";
import { profiles } from "./settings.ts";

const args = process.argv.slice(2);
const outAt = args.indexOf("--out");
const out = outAt >= 0 && args[outAt + 1] ? resolve(args[outAt + 1]!) : resolve(import.meta.dirname, "../../dist");
const wanted = args.filter((arg, i) => arg !== "--out" && (outAt < 0 || i !== outAt + 1));
const unknown = wanted.filter((name) => !(name in profiles));
if (unknown.length > 0) {
  process.stderr.write(`unknown profile ${unknown.join(", ")}: known are ${Object.keys(profiles).join(", ")}\n`);
  process.exit(2);
}
for (const [name, settings] of Object.entries(profiles)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const outdir = resolve(out, name);
  const { objects, layers } = synthesizeLot(settings, outdir);
  process.stdout.write(`${name}: ${objects} objects in ${layers} files under ${outdir}\n`);
}
