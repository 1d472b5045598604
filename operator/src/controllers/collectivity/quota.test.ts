import { describe, expect, it } from "vitest";
import { defaultSize, jetStreamLimits, minQuantity, parseQuantity, quotaProblems, resolveQuota } from "./quota.ts";

describe("default quota size", () => {
  it.each([
    ["commune", 800, "small", "a village"],
    ["commune", 45_000, "medium", "a town such as Quimper"],
    ["commune", 227_830, "large", "a city such as Rennes"],
    ["epci", 30_000, "medium", "a communauté de communes"],
    ["epci", 470_000, "large", "a métropole"],
    ["departement", undefined, "large", "a département"],
    ["region", undefined, "large", "a région"],
    ["syndicat", undefined, "medium", "a syndicat"],
  ] as const)("when a %s has %s inhabitants, then its size is %s (%s)", (category, population, size, _example) => {
    expect(defaultSize(category, population)).toBe(size);
  });
});

describe("resolveQuota", () => {
  it("when the spec gives some fields, then they win and the rest come from the category", () => {
    expect(resolveQuota({ category: "commune", population: 227_830, quota: { cpu: "6", pods: 80 } })).toEqual({
      cpu: "6",
      memory: "32Gi",
      storage: "500Gi",
      pods: 80,
      serviceInstances: 20,
    });
  });
});

describe("quotaProblems", () => {
  it("when the quota is below one container's default request, then it says which and why", () => {
    expect(quotaProblems({ cpu: "50m", memory: "64Mi", storage: "1Gi", pods: 1, serviceInstances: 1 })).toEqual([
      "quota.cpu 50m is below one container's default request (100m)",
      "quota.memory 64Mi is below one container's default request (128Mi)",
    ]);
  });

  it("when the quota is reasonable, then there is no problem", () => {
    expect(quotaProblems(resolveQuota({ category: "commune", population: 800 }))).toEqual([]);
  });
});

describe("quantities", () => {
  it.each([
    ["500m", 0.5],
    ["2", 2],
    ["4Gi", 4 * 2 ** 30],
    ["1.5G", 1.5e9],
    ["1e3", 1000],
    ["lots", undefined],
  ])("when %s is parsed, then it is %s", (text, value) => {
    expect(parseQuantity(text)).toBe(value);
  });

  it("when two quantities are compared, then the smaller is kept as written", () => {
    expect(minQuantity("500m", "2")).toBe("500m");
    expect(minQuantity("4Gi", "512Mi")).toBe("512Mi");
  });
});

describe("a tenant's share of JetStream", () => {
  it("when the quota is a large city's, then streams and consumers follow its ServiceInstances and a stream may hold a tenth of its storage shared", () => {
    expect(jetStreamLimits({ cpu: "16", memory: "32Gi", storage: "500Gi", pods: 200, serviceInstances: 20 })).toEqual({ streams: 80, consumers: 1280, streamBytes: Math.floor((500 * 2 ** 30) / 10 / 80) });
  });

  it("when the quota is tiny, then a stream may still hold what a service's flows ask (256 MiB), and there are at least four", () => {
    expect(jetStreamLimits({ cpu: "1", memory: "1Gi", storage: "1Gi", pods: 5, serviceInstances: 0 })).toEqual({ streams: 4, consumers: 64, streamBytes: 256 * 2 ** 20 });
  });
});
