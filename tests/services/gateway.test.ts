import { KubernetesObjectApi } from "@kubernetes/client-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import type { RunningService } from "@mutualis/service-kit";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { sampleValue } from "../support/metrics.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { platformServicesCreds, startSharedActes, startTestGateway } from "../support/services.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const objects = KubernetesObjectApi.makeApiClient(kc);
let operator: RunningOperator;
let gatewayService: RunningService;
const running: RunningService[] = [];

let token: (user: string, collectivity: string, expiresIn?: string) => Promise<string>;

async function api(method: string, path: string, bearer?: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> & { details?: string[] } }> {
  const res = await fetch(`${gatewayService.url}${path}`, {
    method,
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const act = (numeroInterne: string) => ({
  numeroInterne,
  nature: 3,
  classification: "4.1",
  objet: "Arrêté de nomination",
  date: "2026-11-20",
  document: { fileName: "arrete.pdf", mimeType: "application/pdf", contentBase64: Buffer.from("%PDF-1.7\n%%EOF\n").toString("base64") },
});

describe("the gateway: authenticated HTTP in front of the services", () => {
  beforeAll(async () => {
    operator = await startTestOperator();
    await objects.create(collectivityManifest({ name: "t-gw-a", siren: sirenFrom("21350021"), administrators: { users: ["admin@gw-a.test"] } }));
    await objects.create(collectivityManifest({ name: "t-gw-b", siren: sirenFrom("21350022") }));
    await waitForReady(kc, "t-gw-a");
    await waitForReady(kc, "t-gw-b");
    const creds = await platformServicesCreds();
    running.push(...(await startSharedActes(creds, "gw")));
    ({ service: gatewayService, token } = await startTestGateway(creds, "gw"));
    running.push(gatewayService);
  });

  afterAll(async () => {
    for (const service of running.reverse()) await service.stop();
    await deleteCollectivity(kc, "t-gw-a");
    await deleteCollectivity(kc, "t-gw-b");
    await waitForGone(kc, "t-gw-a");
    await waitForGone(kc, "t-gw-b");
    await operator.stop();
  });

  it("when a call has no token, a forged one or an expired one, then it is refused with 401", async () => {
    expect((await api("GET", "/api/v1/tenants/t-gw-a/actes/list")).status).toBe(401);
    expect((await api("GET", "/api/v1/tenants/t-gw-a/actes/list", "not.a.token")).status).toBe(401);
    const expired = await api("GET", "/api/v1/tenants/t-gw-a/actes/list", await token("agent@gw-a.test", "t-gw-a", "-1m"));
    expect(expired).toEqual({ status: 401, body: { error: "Unauthorized", message: "the token has expired" } });
  });

  it("when an administrator requests the actes service through the gateway, then the ServiceInstance is created as them and becomes Ready", async () => {
    const admin = await token("admin@gw-a.test", "t-gw-a");
    const created = await api("POST", "/api/v1/tenants/t-gw-a/service-instances", admin, { name: "actes", service: "actes" });
    expect(created.status).toBe(201);
    await eventually("the instance to be Ready", async () => {
      const list = (await api("GET", "/api/v1/tenants/t-gw-a/service-instances", admin)).body as unknown as { status?: { conditions?: { type: string; status: string }[] } }[];
      return list[0]?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
    }, 60_000);
  });

  it("when an agent who is not an administrator requests a service instance, then Kubernetes RBAC refuses it", async () => {
    const agent = await token("agent@gw-a.test", "t-gw-a");
    const refused = await api("POST", "/api/v1/tenants/t-gw-a/service-instances", agent, { name: "helios", service: "helios" });
    expect(refused.status).toBe(403);
    expect(String(refused.body.message)).toContain('User "agent@gw-a.test" cannot create resource "serviceinstances"');
  });

  it("when an agent submits an act through the gateway, then it is acknowledged", async () => {
    const agent = await token("agent@gw-a.test", "t-gw-a");
    const submitted = await api("POST", "/api/v1/tenants/t-gw-a/actes/submit", agent, act("A2026_001"));
    expect(submitted.status).toBe(200);
    const acknowledged = await eventually("the act to be acknowledged", async () => {
      const { body } = await api("GET", `/api/v1/tenants/t-gw-a/actes/get?id=${String(submitted.body.id)}`, agent);
      return body.status === "acknowledged" ? body : undefined;
    });
    expect(acknowledged.identifier).toMatch(/-A2026_001-AI$/);
  });

  it("when a malformed act is submitted, then the service's 400 and reasons come back through the gateway", async () => {
    const agent = await token("agent@gw-a.test", "t-gw-a");
    const refused = await api("POST", "/api/v1/tenants/t-gw-a/actes/submit", agent, { ...act("bad number"), nature: 8 });
    expect(refused.status).toBe(400);
    expect(refused.body.details?.join("\n")).toContain("numeroInterne");
  });

  it("when a token of another collectivity is used, then the gateway refuses it with 403 before anything is forwarded", async () => {
    const other = await token("agent@gw-b.test", "t-gw-b");
    const refused = await api("GET", "/api/v1/tenants/t-gw-a/actes/list", other);
    expect(refused).toEqual({ status: 403, body: { error: "Forbidden", message: "this token is for collectivity t-gw-b, not t-gw-a" } });
  });

  it("when a collectivity calls a service it has no instance of, then the service refuses it with 403", async () => {
    const other = await token("agent@gw-b.test", "t-gw-b");
    const answer = await api("GET", "/api/v1/tenants/t-gw-b/actes/list", other);
    expect(answer).toEqual({ status: 403, body: { error: "Forbidden", message: "collectivity t-gw-b is not enabled on the actes service" } });
  });

  it("when a service does not exist on the platform, then the answer is 503 and says why", async () => {
    const agent = await token("agent@gw-a.test", "t-gw-a");
    const answer = await api("GET", "/api/v1/tenants/t-gw-a/helios/list", agent);
    expect(answer.status).toBe(503);
    expect(String(answer.body.message)).toContain("the helios service does not answer for t-gw-a");
  });

  it("when the OpenAPI description is asked for, then it lists the gateway's paths", async () => {
    const res = await fetch(`${gatewayService.url}/api/v1/openapi.json`);
    const document = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual([
      "/api/v1/tenants/{tenant}/{service}/{operation}",
      "/api/v1/tenants/{tenant}/service-instances",
      "/api/v1/tenants/{tenant}/service-instances/{name}",
    ]);
  });

  it("when calls went through, then an audit trail says who did what, without the content", async () => {
    const client = await new MongoClient(platform.env.MONGODB_URI).connect();
    try {
      const entries = await client.db("gw_gateway").collection("audit").find({}, { projection: { _id: 0, at: 0 } }).toArray();
      expect(entries).toEqual(expect.arrayContaining([{ user: "admin@gw-a.test", collectivity: "t-gw-a", action: "create service-instance actes", status: 201 }]));
      expect(JSON.stringify(entries)).not.toContain("Arrêté");
    } finally {
      await client.close();
    }
  });

  it("when calls went through, then the gateway and actes count each collectivity's requests by outcome, for the monitoring team", async () => {
    // A name nobody vouched for (no token) makes no series: the labels are not anyone's to make up.
    expect((await fetch(`${gatewayService.url}/api/v1/tenants/made-up-${Date.now()}/actes/list`)).status).toBe(401);
    const gatewayMetrics = await (await fetch(`${gatewayService.url}/metrics`)).text();
    expect(gatewayMetrics).not.toContain('collectivity="made-up-');
    const requests = (text: string, labels: Record<string, string>) => sampleValue(text, "mutualis_tenant_request_duration_seconds_count", { collectivity: "t-gw-a", ...labels });
    expect(requests(gatewayMetrics, { interface: "http", outcome: "ok" })).toBeGreaterThan(0);
    expect(requests(gatewayMetrics, { interface: "http", outcome: "rejected" })).toBeGreaterThan(0);
    const actesMetrics = await (await fetch(`${running[1]!.url}/metrics`)).text();
    expect(requests(actesMetrics, { interface: "nats", outcome: "ok" })).toBeGreaterThan(0);
  });
});
