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

describe("the client's address", () => {
  async function addressApp(trustedProxies?: string[]) {
    const log = pino({ level: "silent" });
    const app = createHttpApp({ bodyLimit: "1mb", metrics: new ServiceMetrics("test"), log, notReady: async () => undefined, ...(trustedProxies ? { trustedProxies } : {}) }, (routes) => {
      routes.get("/whoami", (req, res) => void res.json({ ip: req.ip }));
    });
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/whoami`;
    const ask = async () => ((await (await fetch(url, { headers: { "x-forwarded-for": "203.0.113.5" } })).json()) as { ip: string }).ip;
    try {
      return await ask();
    } finally {
      server.close();
    }
  }

  it("when no proxy is trusted, then X-Forwarded-For is ignored and the connection's address is the client's", async () => {
    expect(await addressApp()).toBe("127.0.0.1");
    expect(await addressApp(["10.0.0.0/8"])).toBe("127.0.0.1");
  });

  it("when the request comes through a trusted proxy, then its X-Forwarded-For gives the client's address", async () => {
    expect(await addressApp(["loopback"])).toBe("203.0.113.5");
  });
});
