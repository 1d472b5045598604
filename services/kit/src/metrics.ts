import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A request's outcome from its status code: ok, rejected (the caller's fault) or error (ours). */
export function outcomeOf(status: number): "ok" | "rejected" | "error" {
  return status >= 500 ? "error" : status >= 400 ? "rejected" : "ok";
}

/** A service's Prometheus metrics: process defaults, HTTP and NATS request durations, business counters. */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Duration of HTTP requests, by method, route and status code.",
    labelNames: ["method", "route", "status_code"] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly natsDuration = new Histogram({
    name: "nats_request_duration_seconds",
    help: "Duration of NATS service requests handled, by endpoint and outcome.",
    labelNames: ["endpoint", "outcome"] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  /**
   * Every request made for one collectivity (HTTP or NATS), by its outcome: the monitoring team's
   * latency and errors per tenant, in shared and dedicated deployments alike. Coarse buckets and
   * three outcomes keep it to a few series per collectivity.
   */
  readonly tenantDuration = new Histogram({
    name: "mutualis_tenant_request_duration_seconds",
    help: "Duration of requests made for a collectivity, by collectivity, interface (http, nats) and outcome (ok, rejected, error).",
    labelNames: ["collectivity", "interface", "outcome"] as const,
    buckets: [0.01, 0.05, 0.25, 1, 5],
    registers: [this.registry],
  });
  private readonly counters = new Map<string, Counter<string>>();
  private readonly histograms = new Map<string, Histogram<"collectivity">>();

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Records a request made for a collectivity; requests for none (platform, health) are not. */
  observeTenantRequest(collectivity: string | undefined, via: "http" | "nats", status: number, seconds: number): void {
    if (!collectivity) return;
    this.tenantDuration.observe({ collectivity, interface: via, outcome: outcomeOf(status) }, seconds);
  }

  /** A business counter labelled by collectivity (and by `more` labels), e.g. mutualis_actes_submitted_total. */
  businessCounter<L extends string = never>(name: string, help: string, more: readonly L[] = []): Counter<"collectivity" | L> {
    let counter = this.counters.get(name);
    if (!counter) {
      counter = new Counter({ name, help, labelNames: ["collectivity", ...more], registers: [this.registry] });
      this.counters.set(name, counter);
    }
    return counter as Counter<"collectivity" | L>;
  }

  /** A business duration labelled by collectivity, in seconds (e.g. an act's time to acknowledgement). */
  businessHistogram(name: string, help: string, buckets: number[]): Histogram<"collectivity"> {
    let histogram = this.histograms.get(name);
    if (!histogram) {
      histogram = new Histogram({ name, help, labelNames: ["collectivity"] as const, buckets, registers: [this.registry] });
      this.histograms.set(name, histogram);
    }
    return histogram;
  }
}
