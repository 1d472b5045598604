import { Unavailable } from "@mutualis/service-kit";

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface Series {
  metric: Record<string, string>;
  points: [number, number][];
}

/** Prometheus's HTTP API, for instant and range queries (PromQL). */
export class PrometheusClient {
  constructor(private readonly url: string) {}

  private async get<T>(path: string, params: Record<string, string>): Promise<T> {
    let answer: Response;
    try {
      answer = await fetch(`${this.url}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw new Unavailable("Prometheus does not answer", { cause: error });
    }
    const body = (await answer.json().catch(() => ({}))) as { status?: string; data?: { result: T }; error?: string };
    if (!answer.ok || body.status !== "success") throw new Unavailable(`Prometheus refused a query: ${body.error ?? answer.status}`);
    return body.data!.result;
  }

  async query(expr: string): Promise<Sample[]> {
    const result = await this.get<{ metric: Record<string, string>; value: [number, string] }[]>("/api/v1/query", { query: expr });
    return result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  async range(expr: string, start: Date, end: Date, stepSeconds: number): Promise<Series[]> {
    const result = await this.get<{ metric: Record<string, string>; values: [number, string][] }[]>("/api/v1/query_range", {
      query: expr,
      start: String(start.getTime() / 1000),
      end: String(end.getTime() / 1000),
      step: String(stepSeconds),
    });
    return result.map((r) => ({ metric: r.metric, points: r.values.map(([t, v]) => [t, Number(v)] as [number, number]) }));
  }
}
