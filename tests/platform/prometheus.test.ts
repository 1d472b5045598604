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
});
