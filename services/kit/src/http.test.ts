import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createHttpApp } from "./http.ts";
import { ServiceMetrics } from "./metrics.ts";

/** A service's HTTP app with a route that fails, its logs kept as lines. */
async function failingApp() {
  const lines: string[] = [];
  const log = pino({ level: "info" }, new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString("utf8")), done()) }));
  const app = createHttpApp({ bodyLimit: "1mb", metrics: new ServiceMetrics("test"), log, notReady: async () => undefined }, (routes) => {
    routes.get("/api/v1/links/:token", () => {
      throw new Error("disk on fire");
    });
  });
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { lines, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

describe("a service's HTTP errors in its logs", () => {
  it("when a request whose path carries a link token fails, then the log names the route's pattern and never the token", async () => {
    const app = await failingApp();
    const token = "Zr4tq1s6VYbVzkVxS6c1QWqF3v8hN2m0pXy7LbA9cDe";
    const res = await fetch(`${app.url}/api/v1/links/${token}`);
    await app.close();
    expect(res.status).toBe(500);
    const logged = app.lines.join("");
    expect(logged).toContain('"route":"/api/v1/links/:token"');
    expect(logged).toContain("disk on fire");
    expect(logged).not.toContain(token);
  });
});
