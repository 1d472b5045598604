import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { resources, type Schema } from "../schema/index.ts";
import { generatedFiles } from "./main.ts";

const root = resolve(import.meta.dirname, "../../..");

describe("generated files", () => {
  it("when the schema is generated again, then every committed file is identical (run `make generate` if not)", () => {
    const stale = [...generatedFiles()].filter(([path, content]) => {
      const file = join(root, path);
      return !existsSync(file) || readFileSync(file, "utf8") !== content;
    });
    expect(stale.map(([path]) => path)).toEqual([]);
  });

  it("when the schemas are walked, then every field has a description (it becomes `kubectl explain` text)", () => {
    const missing: string[] = [];
    const walk = (schema: Schema, path: string) => {
      if (!schema.description) missing.push(path);
      for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${name}`);
      if (schema.items) walk(schema.items, `${path}[]`);
    };
    for (const r of resources) {
      walk(r.spec, `${r.kind}.spec`);
      walk(r.status, `${r.kind}.status`);
    }
    expect(missing).toEqual([]);
  });
});
