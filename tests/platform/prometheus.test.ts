import { describe, expect, it } from "vitest";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();

interface Target {
  labels: { job: string };
  health: string;
  lastError: string;
}

describe("Prometheus", () => {
  it("when the platform is up, then Prometheus scrapes itself and the API server successfully", async () => {
    const health = await eventually("the scrape targets to be up", async () => {
      const answer = await fetch(`${platform.env.PROMETHEUS_URL}/api/v1/targets?state=active`);
      const body = (await answer.json()) as { data: { activeTargets: Target[] } };
      const byJob = Object.fromEntries(body.data.activeTargets.map((t) => [t.labels.job, t.health]));
      return byJob.prometheus === "up" && byJob["kube-apiserver"] === "up" ? byJob : undefined;
    }, 90_000);
    expect(health).toMatchObject({ prometheus: "up", "kube-apiserver": "up", etcd: "up" });

    const query = await fetch(`${platform.env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent('up{job="kube-apiserver"}')}`);
    const result = (await query.json()) as { data: { result: { value: [number, string] }[] } };
    expect(result.data.result[0]?.value[1]).toBe("1");
  });

  it("when the platform is up, then Prometheus evaluates the hosting lot's alerting rules, none of them broken", async () => {
    const answer = await fetch(`${platform.env.PROMETHEUS_URL}/api/v1/rules?type=alert`);
    const body = (await answer.json()) as { data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] } };
    const rules = body.data.groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, name: r.name, health: r.health, lastError: r.lastError ?? "" })));
    expect(rules.map((r) => r.name)).toEqual(expect.arrayContaining(["MutualisReconcileErrors", "MutualisTenantNotReady", "MutualisWorkQueueBacklog", "MutualisLeaderMissing", "MutualisServiceDown", "MutualisServiceErrors"]));
    // Once evaluated, a rule is "ok"; before its first evaluation, "unknown": never "err".
    expect(rules.filter((r) => r.health === "err")).toEqual([]);
  });
});
