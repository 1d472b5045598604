import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repositoryRoot } from "./config.ts";

/** The viewer's files (index.html, viewer.js, viewer.css), beside this package's sources. */
const viewer = join(import.meta.dirname, "../dashboards");

export interface DashboardEntry {
  readonly file: string;
  readonly uid: string;
  readonly title: string;
}

/**
 * Fills Prometheus's user assets (served at /user/ with --web.user-assets) with the dashboard
 * viewer and the Helm chart's Grafana dashboards, copied as the chart ships them, so that a
 * monitoring team sees on the local platform the dashboards Grafana shows in production.
 * Returns the dashboards it copied.
 */
export function writeDashboardAssets(target: string, chartDashboards = join(repositoryRoot(), "charts/mutualis/dashboards")): DashboardEntry[] {
  rmSync(target, { recursive: true, force: true });
  mkdirSync(join(target, "dashboards"), { recursive: true });
  cpSync(viewer, target, { recursive: true });
  const entries = readdirSync(chartDashboards)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => {
      const text = readFileSync(join(chartDashboards, file), "utf8");
      const { uid, title } = JSON.parse(text) as { uid: string; title: string };
      writeFileSync(join(target, "dashboards", file), text);
      return { file, uid, title };
    });
  writeFileSync(join(target, "dashboards", "index.json"), JSON.stringify(entries, null, 2) + "\n");
  return entries;
}
