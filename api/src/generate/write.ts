import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Writes generated files (paths from `root`) that differ from what is on disk; with `check`,
 * writes nothing and names the ones out of date. Returns the process's exit code.
 */
export function writeGenerated(root: string, files: Map<string, string>, check: boolean): number {
  const stale: string[] = [];
  for (const [path, content] of files) {
    const file = join(root, path);
    const current = existsSync(file) ? readFileSync(file, "utf8") : undefined;
    if (current === content) continue;
    if (check) {
      stale.push(path);
    } else {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      console.log(`generate: wrote ${path}`);
    }
  }
  if (stale.length > 0) {
    console.error(`generate: out of date, run \`make generate\`: ${stale.join(", ")}`);
    return 1;
  }
  return 0;
}
