import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Svcm } from "@nats-io/services";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createAccount,
  ensureOperatorIdentity,
  layout,
  pushAccountJwt,
  signAccount,
  startComponent,
  stopComponent,
  userCreds,
} from "@mutualis/local-platform";
import { allow, baseSettings, InvalidRequest, loadSettings, RunningService, type ServiceDefinition } from "@mutualis/service-kit";
import { bearer, startTestIdentity, type TestIdentity } from "../support/identity.ts";
import { sampleValue } from "../support/metrics.ts";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
let credsFile: string;
let service: RunningService;
let client: NatsConnection;
let identity!: TestIdentity;

const note = z.object({ collectivity: z.string().regex(/^[a-z0-9-]+$/), text: z.string().min(1).max(200) });

/** A small service written with the kit, as every Mutualis service is. */
const notes: ServiceDefinition = {
  description: "Notes, for testing the service kit",
  routes(app, { database, metrics }) {
    const created = metrics.businessCounter("mutualis_notes_created_total", "Notes created, per collectivity.");
    app.post("/api/notes", async (req, res) => {
      const parsed = note.safeParse(req.body);
      if (!parsed.success) throw new InvalidRequest("the note is invalid", { details: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) });
      await database.collection("notes").insertOne({ ...parsed.data });
      created.inc({ collectivity: parsed.data.collectivity });
      res.status(201).json(parsed.data);
    });
    app.get("/api/slow", async (_req, res) => {
      await new Promise((r) => setTimeout(r, 800));
      res.json({ done: true });
    });
  },
  endpoints: ({ database }) => [
    {
      name: "count",
      subject: "tenant.*.notes.count",
      schema: z.object({ prefix: z.string().max(20) }).optional(),
      callers: allow.members(),
      handle: async (_request, context) => ({ collectivity: context.collectivity, count: await database.collection("notes").countDocuments({ collectivity: context.collectivity }) }),
    },
  ],
};

function settings(overrides: Record<string, string> = {}) {
  return loadSettings(baseSettings, {
    SERVICE_NAME: "notes",
    HTTP_PORT: "0",
    HTTP_INTERNAL_PORT: "0",
    HTTP_HOST: "127.0.0.1",
    HTTP_BODY_LIMIT: "2kb",
    NATS_URL: platform.env.NATS_URL,
    NATS_CREDS_FILE: credsFile,
    MONGODB_URI: platform.env.MONGODB_URI,
    MONGODB_DATABASE: "service_kit_test",
    LOG_LEVEL: "warn",
    ...identity.verifierSettings,
    ...overrides,
  });
}

describe("the service kit against real NATS and FerretDB", () => {
  beforeAll(async () => {
    const natsOperator = await ensureOperatorIdentity(layout(platform.config).nats);
    const account = createAccount();
    const system = await platform.systemNats();
    await pushAccountJwt(system, await signAccount(natsOperator, "service-kit-test", account));
    await system.close();
    credsFile = join(mkdtempSync(join(tmpdir(), "kit-")), "user.creds");
    writeFileSync(credsFile, await userCreds("notes", account), { mode: 0o600 });
    identity = await startTestIdentity(credsFile, "service_kit_test_identity", []);
    service = await new RunningService(notes, settings()).start();
    client = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(await userCreds("client", account)) });
  });

  afterAll(async () => {
    await client?.close();
    await service?.stop();
    await identity?.stop();
  });

  it("when a request is valid, then it is stored and answered, with security headers", async () => {
    const res = await fetch(`${service.url}/api/notes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ collectivity: "rennes", text: "conseil municipal" }) });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(res.headers.get("x-powered-by")).toBeNull();
  });

  it.each([
    ["an invalid note", JSON.stringify({ collectivity: "Rennes!", text: "" }), 400, "InvalidRequest"],
    ["a body that is not JSON", "{not json", 400, "InvalidRequest"],
    ["a body over the limit", JSON.stringify({ collectivity: "rennes", text: "x".repeat(4000) }), 413, "PayloadTooLarge"],
  ])("when the service receives %s, then it answers %i with the error's name", async (_case, body, status, error) => {
    const res = await fetch(`${service.url}/api/notes`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toBe(error);
  });

  it("when a route does not exist, then the answer is a JSON 404", async () => {
    const res = await fetch(`${service.url}/api/nothing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "NotFound", message: "no route for GET /api/nothing" });
  });

  it("when a tenant subject is requested over NATS, then the endpoint knows the collectivity from the subject", async () => {
    const token = await identity.tokenFor("agent.double@mairie.example", { rennes: ["agent"], brest: ["elu"] });
    const reply = await client.request("tenant.rennes.notes.count", "", { timeout: 5000, ...bearer(token) });
    expect(reply.json()).toEqual({ collectivity: "rennes", count: 1 });
    const other = await client.request("tenant.brest.notes.count", "", { timeout: 5000, ...bearer(token) });
    expect(other.json()).toEqual({ collectivity: "brest", count: 0 });
  });

  it("when a tenant endpoint is called without a token, with a bad one, or by someone with no role in the subject's collectivity, then it is refused before its handler", async () => {
    const status = (reply: { headers?: { get(key: string): string } }) => reply.headers?.get("Nats-Service-Error-Code");
    expect(status(await client.request("tenant.rennes.notes.count", "", { timeout: 5000 }))).toBe("401");
    expect(status(await client.request("tenant.rennes.notes.count", "", { timeout: 5000, ...bearer("not-a-token") }))).toBe("401");
    const outsider = await identity.tokenFor("agent.brest@mairie.example", { brest: ["agent"] });
    const refused = await client.request("tenant.rennes.notes.count", "", { timeout: 5000, ...bearer(outsider) });
    expect(status(refused)).toBe("403");
    expect(refused.headers?.get("Nats-Service-Error")).toBe("this operation needs a role among agent, signataire, secretaire, elu, administrateur in collectivity rennes");
    const noRole = await identity.tokenFor("nouvel.agent@mairie.example", { rennes: [] });
    expect(status(await client.request("tenant.rennes.notes.count", "", { timeout: 5000, ...bearer(noRole) }))).toBe("403");
  });

  it("when a NATS request is invalid, then the reply carries the same status code as HTTP would", async () => {
    const token = await identity.tokenFor("agent.double@mairie.example", { rennes: ["agent"], brest: ["elu"] });
    const reply = await client.request("tenant.rennes.notes.count", JSON.stringify({ prefix: "x".repeat(50) }), { timeout: 5000, ...bearer(token) });
    expect(reply.headers?.get("Nats-Service-Error-Code")).toBe("400");
    expect(reply.headers?.get("Nats-Service-Error")).toBe("the request is invalid");
  });

  it("when services are discovered with $SRV.PING, INFO and STATS, then the service and its endpoint are listed", async () => {
    const discovery = new Svcm(client).client();
    const pings = [];
    for await (const ping of await discovery.ping("notes")) pings.push(ping);
    expect(pings.map((p) => p.name)).toEqual(["notes"]);
    const infos = [];
    for await (const info of await discovery.info("notes")) infos.push(info);
    expect(infos[0]?.endpoints.map((e) => e.subject)).toEqual(["tenant.*.notes.count"]);
    const stats = [];
    for await (const stat of await discovery.stats("notes")) stats.push(stat);
    expect(stats[0]?.endpoints?.[0]?.num_requests).toBeGreaterThanOrEqual(3);
  });

  it("when /metrics is scraped, then request durations, each collectivity's requests by outcome and the business counter are there", async () => {
    const text = await (await fetch(`${service.internalUrl}/metrics`)).text();
    // Brest asked once (ok); Rennes was asked invalidly once and by callers refused four times
    // (rejected; NATS's permissions vouch for the subject's collectivity); health and metrics are nobody's.
    const tenantRequests = (labels: Record<string, string>) => sampleValue(text, "mutualis_tenant_request_duration_seconds_count", { service: "notes", ...labels });
    expect(tenantRequests({ collectivity: "brest", interface: "nats", outcome: "ok" })).toBe(1);
    expect(tenantRequests({ collectivity: "rennes", interface: "nats", outcome: "rejected" })).toBe(5);
    expect(tenantRequests({ interface: "http" })).toBeUndefined();
    expect(text).toMatch(/^http_request_duration_seconds_count\{.*route="\/api\/notes".*status_code="201".*\} 1$/m);
    expect(text).toMatch(/^nats_request_duration_seconds_count\{.*endpoint="count".*outcome="ok".*\} [1-9]/m);
    expect(text).toMatch(/^mutualis_notes_created_total\{collectivity="rennes",service="notes"\} 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes/m);
  });

  it("when the public port is asked for metrics, readiness or health, then it has none of them: they are on the internal port only", async () => {
    for (const path of ["/metrics", "/readyz", "/healthz"]) {
      const res = await fetch(`${service.url}${path}`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toMatch(/mutualis_|process_|ok/);
      expect((await fetch(`${service.internalUrl}${path}`)).status).toBe(200);
    }
  });

  it("when the database goes away, then /readyz says so, and says ready again once it is back", async () => {
    expect((await fetch(`${service.internalUrl}/readyz`)).status).toBe(200);
    await stopComponent(platform.config, "ferretdb");
    try {
      const answer = await eventually("readiness to fail", async () => {
        const res = await fetch(`${service.internalUrl}/readyz`);
        return res.status === 503 ? res.text() : undefined;
      }, 30_000);
      expect(answer).toBe("database unreachable");
    } finally {
      await startComponent(platform.config, "ferretdb");
    }
    await eventually("readiness to come back", async () => ((await fetch(`${service.internalUrl}/readyz`)).status === 200 ? true : undefined), 30_000);
  });

  it("when the service stops with a request in flight, then that request completes and the service then refuses connections", async () => {
    const second = await new RunningService(notes, settings({ SERVICE_NAME: "notes-shutdown" })).start();
    const publicUrl = second.url;
    const inFlight = fetch(`${publicUrl}/api/slow`);
    await new Promise((r) => setTimeout(r, 100));
    const stopped = second.stop();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await stopped;
    await expect(fetch(`${publicUrl}/api/slow`)).rejects.toThrow();
  });
});
