import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repositoryRoot } from "./config.ts";
import { writeDashboardAssets } from "./dashboards.ts";

describe("the dashboards Prometheus serves as user assets", () => {
  it("when the assets are written, then the viewer and the chart's dashboards are there, copied byte for byte and listed", () => {
    const target = join(mkdtempSync(join(tmpdir(), "user-assets-")), "user");
    const entries = writeDashboardAssets(target);
    expect(entries).toEqual([
      { file: "mutualis-platform.json", uid: "mutualis-platform", title: "Mutualis — platform health" },
      { file: "mutualis-tenant.json", uid: "mutualis-tenant", title: "Mutualis — per collectivity" },
    ]);
    for (const file of ["index.html", "viewer.js", "viewer.css"]) expect(existsSync(join(target, file))).toBe(true);
    for (const { file } of entries) {
      expect(readFileSync(join(target, "dashboards", file), "utf8")).toBe(readFileSync(join(repositoryRoot(), "charts/mutualis/dashboards", file), "utf8"));
    }
    expect(JSON.parse(readFileSync(join(target, "dashboards/index.json"), "utf8"))).toEqual(entries);
  });
});
