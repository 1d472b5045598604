import { createHash } from "node:crypto";
import { execFile, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { KubernetesObjectApi } from "@kubernetes/client-node";
import { approveDevice } from "@mutualis/identity";
import { CallerVerifier } from "@mutualis/service-kit";
import { layout, writeOidcKubeconfig } from "@mutualis/local-platform";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import type { RunningService } from "@mutualis/service-kit";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { sampleValue } from "../support/metrics.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { platformServicesCreds, startSharedActes, startTestGateway } from "../support/services.ts";
import { craftToken, reserveTestIdentity, startTestIdentity, testPassword, type TestIdentity } from "../support/identity.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const objects = KubernetesObjectApi.makeApiClient(kc);
let operator: RunningOperator;
let gatewayService: RunningService;
const running: RunningService[] = [];

let identity: TestIdentity;
/** A person of the tests with one role in one collectivity, signed in through the identity service. */
const token = (email: string, collectivity: string, role: "agent" | "administrateur" = "agent") => identity.tokenFor(email, { [collectivity]: [role] });

async function api(method: string, path: string, bearer?: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> & { details?: string[] } }> {
  const res = await fetch(`${gatewayService.url}${path}`, {
    method,
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const run = promisify(execFile);

/** kubectl as the token's holder (no kubeconfig user: the token alone), its output or its error. */
async function kubectl(bearer: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(layout(platform.config).bin("kubectl"), [
    `--server=${platform.env.KUBE_API_URL}`,
    `--certificate-authority=${join(layout(platform.config).pki, "ca.crt")}`,
    `--token=${bearer}`,
    "--kubeconfig=/dev/null",
    ...args,
  ]);
  return stdout;
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
    // On the test platform's identity port: the API server trusts this issuer's tokens.
    identity = await startTestIdentity(creds, "gw_identity", [], {}, await reserveTestIdentity(platform.config.ports.identity));
    running.push(...(await startSharedActes(creds, "gw", identity.verifierSettings)));
    gatewayService = await startTestGateway(creds, "gw", identity.verifierSettings);
    running.push(gatewayService);
    // The API server reads the issuer's discovery again every 10 s until it answers: wait for it to trust the tokens.
    const probe = await token("probe@gw-a.test", "t-gw-a");
    await eventually("the API server to trust the identity's tokens", async () => ((await kubectl(probe, "auth", "whoami", "-o", "name").catch(() => "")) ? true : undefined), 60_000);
  });

  afterAll(async () => {
    for (const service of running.reverse()) await service.stop();
    await identity?.stop();
    await deleteCollectivity(kc, "t-gw-a");
    await deleteCollectivity(kc, "t-gw-b");
    await waitForGone(kc, "t-gw-a");
    await waitForGone(kc, "t-gw-b");
    await operator.stop();
  });

  it("when a call has no token, a forged one, an expired one, one without expiry, of another type or for another audience, then it is refused with 401", async () => {
    expect((await api("GET", "/api/v1/tenants/t-gw-a/actes/list")).status).toBe(401);
    expect((await api("GET", "/api/v1/tenants/t-gw-a/actes/list", "not.a.token")).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: identity.issuer, aud: "mutualis-api", sub: "forged", email: "agent@gw-a.test", memberships: { "t-gw-a": ["administrateur"] }, iat: now, exp: now + 600 };
    const refused = async (token: string) => (await api("GET", "/api/v1/tenants/t-gw-a/actes/list", token)).body.message;
    expect(await refused(await craftToken(identity.keysFile, { ...claims, exp: now - 60 }))).toBe("the token has expired");
    expect(await refused(await craftToken(identity.keysFile, { ...claims, exp: undefined }))).toBe("the token is not valid");
    expect(await refused(await craftToken(identity.keysFile, { ...claims, aud: "another-api" }))).toBe("the token is not valid");
    expect(await refused(await craftToken(identity.keysFile, claims, { typ: "JWT" }))).toBe("the token is not valid");
    expect(await refused(await craftToken(identity.keysFile, { ...claims, iss: "https://elsewhere.example" }))).toBe("the token is not valid");
    // Signed by a key the identity never published.
    const [header, payload] = (await craftToken(identity.keysFile, claims)).split(".");
    expect(await refused(`${header}.${payload}.${Buffer.alloc(64, 1).toString("base64url")}`)).toBe("the token is not valid");
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${payload}.`;
    expect(await refused(unsigned)).toBe("the token is not valid");
  });

  it("when an administrator requests the actes service through the gateway, then the ServiceInstance is created as them and becomes Ready", async () => {
    const admin = await token("admin@gw-a.test", "t-gw-a", "administrateur");
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
    expect(String(refused.body.message)).toContain('User "oidc:agent@gw-a.test" cannot create resource "serviceinstances"');
  });

  it("when an administrator uses kubectl with their token, then the API server knows them under the oidc: prefix, they see their namespace and are refused another's; system:masters in a token's groups gives nothing", async () => {
    const admin = await token("admin@gw-a.test", "t-gw-a", "administrateur");
    expect(await kubectl(admin, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")).toBe('oidc:admin@gw-a.test ["oidc:mutualis:t-gw-a:administrateur","system:authenticated"]');
    expect(await kubectl(admin, "get", "serviceinstances", "-n", "coll-t-gw-a", "-o", "name")).toBeDefined();
    await expect(kubectl(admin, "get", "serviceinstances", "-n", "coll-t-gw-b")).rejects.toThrow(/forbidden/);
    await expect(kubectl(admin, "get", "secrets", "-n", "coll-t-gw-a")).rejects.toThrow(/forbidden/);
    // A token signed with the identity's own key whose claims name the cluster's masters.
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: identity.issuer, aud: "mutualis-api", sub: "greedy", email: "greedy@gw-a.test", email_verified: true, memberships: {}, iat: now, exp: now + 600 };
    const greedy = await craftToken(identity.keysFile, { ...claims, groups: ["system:masters"] });
    expect(await kubectl(greedy, "auth", "whoami", "-o", "jsonpath={.status.userInfo.groups}")).toBe('["oidc:system:masters","system:authenticated"]');
    await expect(kubectl(greedy, "get", "namespaces")).rejects.toThrow(/forbidden/);
    // An address the identity has not verified, or a token for another audience: not even a user.
    await expect(kubectl(await craftToken(identity.keysFile, { ...claims, email_verified: false }), "auth", "whoami")).rejects.toThrow(/Unauthorized|must be logged in/);
    await expect(kubectl(await craftToken(identity.keysFile, { ...claims, aud: "another-api" }), "auth", "whoami")).rejects.toThrow(/Unauthorized|must be logged in/);
  });

  it("when an administrator uses the kubeconfig of make kubeconfig, then kubectl has them sign in on a page with a code, and keeps the token for the next command", async () => {
    await token("admin@gw-a.test", "t-gw-a", "administrateur");
    rmSync(join(layout(platform.config).identity, "kubectl-token.json"), { force: true });
    const file = writeOidcKubeconfig(platform.config, join(layout(platform.config).identity, "kubeconfig-test"));
    const kubectlWith = (...args: string[]) => {
      const child = spawn(layout(platform.config).bin("kubectl"), ["--kubeconfig", file, ...args]);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const done = new Promise<number>((resolvePromise) => child.on("close", (code) => resolvePromise(code ?? -1)));
      return { done, stdout: () => stdout, stderr: () => stderr };
    };
    const first = kubectlWith("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}");
    // kubectl shows what the plugin asks: a page and a code, which the person opens and signs in at.
    const shown = await eventually("kubectl to show the sign-in page", async () => /ouvrez (\S+) et vérifiez le code (\S+)\./.exec(first.stderr()) ?? undefined, 30_000);
    expect(shown[1]).toContain(`${identity.issuer}/device`);
    await approveDevice({ issuer: identity.issuer, verificationUriComplete: shown[1]!, email: "admin@gw-a.test", password: testPassword, fetch: identity.fetch });
    expect(await first.done).toBe(0);
    expect(first.stdout()).toBe("oidc:admin@gw-a.test");
    // The next command uses the token kept: no page, no code.
    const second = kubectlWith("get", "serviceinstances", "-n", "coll-t-gw-a", "-o", "name");
    expect(await second.done).toBe(0);
    expect(second.stderr()).toBe("");
    const third = kubectlWith("get", "serviceinstances", "-n", "coll-t-gw-b");
    expect(await third.done).not.toBe(0);
    expect(third.stderr()).toMatch(/forbidden/);
  });

  it("when an administrator of the identity service (not named in the Collectivity) lists the instances through the gateway, then their role's group lets them, and a token naming system:masters gets nothing", async () => {
    const delegated = await identity.tokenFor("adjoint.numerique@gw-a.test", { "t-gw-a": ["administrateur"] });
    expect((await api("GET", "/api/v1/tenants/t-gw-a/service-instances", delegated)).status).toBe(200);
    // A well-signed token whose own claims name system:masters: the gateway computes groups from memberships.
    const now = Math.floor(Date.now() / 1000);
    const greedy = await craftToken(identity.keysFile, { iss: identity.issuer, aud: "mutualis-api", sub: "greedy", email: "greedy@gw-a.test", email_verified: true, memberships: { "t-gw-a": ["agent"] }, groups: ["system:masters"], iat: now, exp: now + 600 });
    expect((await api("GET", "/api/v1/tenants/t-gw-a/service-instances", greedy)).status).toBe(403);
    expect((await api("POST", "/api/v1/tenants/t-gw-a/service-instances", greedy, { name: "helios", service: "helios" })).status).toBe(403);
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

  it("when an agent uploads an annex in 1 MiB chunks through the gateway and names it in an act, then the shared actes (with its own NATS user's permissions) keeps it in the object store and the act is acknowledged", async () => {
    const agent = await token("agent@gw-a.test", "t-gw-a");
    const annex = Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.alloc(2_500_000, 42), Buffer.from("\n%%EOF\n")]);
    const started = await api("POST", "/api/v1/tenants/t-gw-a/actes/uploads.start", agent, {
      fileName: "annexe.pdf",
      mimeType: "application/pdf",
      size: annex.length,
      sha256: createHash("sha256").update(annex).digest("hex"),
    });
    expect(started.status).toBe(200);
    const { id, chunkBytes } = started.body as { id: string; chunkBytes: number };
    for (let index = 0; index * chunkBytes < annex.length; index++) {
      const sent = await api("POST", "/api/v1/tenants/t-gw-a/actes/uploads.chunk", agent, { id, index, contentBase64: annex.subarray(index * chunkBytes, (index + 1) * chunkBytes).toString("base64") });
      expect(sent.status).toBe(200);
    }
    expect((await api("POST", "/api/v1/tenants/t-gw-a/actes/uploads.finish", agent, { id })).body.state).toBe("complete");
    const submitted = await api("POST", "/api/v1/tenants/t-gw-a/actes/submit", agent, { ...act("A2026_UP1"), annexes: [{ upload: id }] });
    expect(submitted.status).toBe(200);
    await eventually("the act with its uploaded annex to be acknowledged", async () => {
      const { body } = await api("GET", `/api/v1/tenants/t-gw-a/actes/get?id=${String(submitted.body.id)}`, agent);
      return body.status === "acknowledged" ? body : undefined;
    });
  });

  it("when a malformed act is submitted, then the service's 400 and reasons come back through the gateway", async () => {
    const agent = await token("agent@gw-a.test", "t-gw-a");
    const refused = await api("POST", "/api/v1/tenants/t-gw-a/actes/submit", agent, { ...act("bad number"), nature: 8 });
    expect(refused.status).toBe(400);
    expect(refused.body.details?.join("\n")).toContain("numeroInterne");
  });

  it("when a person of another collectivity calls, then the gateway refuses them with 403 before anything is forwarded", async () => {
    const other = await token("agent@gw-b.test", "t-gw-b");
    const refused = await api("GET", "/api/v1/tenants/t-gw-a/actes/list", other);
    expect(refused).toEqual({ status: 403, body: { error: "Forbidden", message: "the caller has no role in collectivity t-gw-a" } });
  });

  it("when a caller may reach the collectivity but not the operation, then the service itself refuses them with its reason", async () => {
    const elu = await identity.tokenFor("elu@gw-a.test", { "t-gw-a": ["elu"] });
    const refused = await api("POST", "/api/v1/tenants/t-gw-a/actes/submit", elu, act("A2026_009"));
    expect(refused).toEqual({ status: 403, body: { error: "Forbidden", message: "this operation needs a role among agent, secretaire, administrateur in collectivity t-gw-a" } });
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

  it("when an administrator manages the collectivity's members through the gateway, then they grant a role that the next sign-in carries; an agent may not, nor another collectivity's administrator", async () => {
    const admin = await token("admin@gw-a.test", "t-gw-a", "administrateur");
    await token("nouvelle.agente@gw-a.test", "t-gw-a");
    const listed = (await api("GET", "/api/v1/tenants/t-gw-a/identity/members.list", admin)).body as unknown as { subject: string; email: string; roles: string[] }[];
    const member = listed.find((m) => m.email === "nouvelle.agente@gw-a.test")!;
    expect(member.roles).toEqual(["agent"]);
    const granted = await api("POST", "/api/v1/tenants/t-gw-a/identity/members.grant", admin, { subject: member.subject, roles: ["agent", "signataire"] });
    expect(granted.status).toBe(200);
    // The next sign-in's token carries the role.
    const caller = await new CallerVerifier({ issuer: identity.issuer, audience: "mutualis-api", caFile: identity.caFile }).verify(`Bearer ${await identity.token("nouvelle.agente@gw-a.test")}`);
    expect(caller).toMatchObject({ memberships: { "t-gw-a": ["agent", "signataire"] } });
    const agent = await token("agent@gw-a.test", "t-gw-a");
    expect((await api("POST", "/api/v1/tenants/t-gw-a/identity/members.grant", agent, { subject: member.subject, roles: ["administrateur"] })).status).toBe(403);
    const otherAdmin = await token("admin@gw-b.test", "t-gw-b", "administrateur");
    expect((await api("GET", "/api/v1/tenants/t-gw-a/identity/members.list", otherAdmin)).status).toBe(403);
    expect((await api("POST", "/api/v1/tenants/t-gw-b/identity/members.grant", otherAdmin, { subject: member.subject, roles: ["administrateur"] })).status).toBe(404);
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
      expect(JSON.stringify(entries)).not.toMatch(/eyJ/);
      expect(JSON.stringify(entries)).not.toContain("Arrêté");
    } finally {
      await client.close();
    }
  });

  it("when calls went through, then the gateway and actes count each collectivity's requests by outcome, for the monitoring team", async () => {
    // A name nobody vouched for (no token) makes no series: the labels are not anyone's to make up.
    expect((await fetch(`${gatewayService.url}/api/v1/tenants/made-up-${Date.now()}/actes/list`)).status).toBe(401);
    const gatewayMetrics = await (await fetch(`${gatewayService.internalUrl}/metrics`)).text();
    expect(gatewayMetrics).not.toContain('collectivity="made-up-');
    const requests = (text: string, labels: Record<string, string>) => sampleValue(text, "mutualis_tenant_request_duration_seconds_count", { collectivity: "t-gw-a", ...labels });
    expect(requests(gatewayMetrics, { interface: "http", outcome: "ok" })).toBeGreaterThan(0);
    expect(requests(gatewayMetrics, { interface: "http", outcome: "rejected" })).toBeGreaterThan(0);
    const actesMetrics = await (await fetch(`${running[1]!.internalUrl}/metrics`)).text();
    expect(requests(actesMetrics, { interface: "nats", outcome: "ok" })).toBeGreaterThan(0);
  });
});
