import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type { Server } from "node:net";
import { join } from "node:path";
import { CoreV1Api, KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { AccountRepository, PasswordHasher } from "@mutualis/identity";
import { applyLotService, claimDirectory, demoToken, ensureLocalSecrets, layout, lotServiceRoute, parseRoute, rotateIdentityKeys, startIngress } from "@mutualis/local-platform";
import { CallerVerifier, Database, type Role } from "@mutualis/service-kit";
import { KubeClient, type RunningOperator } from "@mutualis/operator";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectivityManifest, deleteCollectivity, sirenFrom, startTestOperator, waitForGone, waitForReady } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { platformServicesCreds } from "../support/services.ts";
import { bearer } from "../support/identity.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const objects = KubernetesObjectApi.makeApiClient(kc);
const core = kc.makeApiClient(CoreV1Api);
const { ports } = platform.config;
const namespace = "mutualis-system";
const agentNode = platform.config.zones.find((z) => z.runner === "agent")!.node;
/** A fetch that trusts the local CA, as the platform's services do. */
const demoTrustedFetch = new CallerVerifier({ issuer: platform.env.IDENTITY_ISSUER, audience: "mutualis-api", caFile: platform.env.IDENTITY_CA_FILE }).fetch;

describe("shared services run from the hosting lot's manifests", () => {
  let operator: RunningOperator | undefined;
  const ingresses: Server[] = [];
  const applied: KubernetesObject[] = [];
  let nc: NatsConnection | undefined;

  /** What `make up` does for a service: the platform provides, the lot's objects are applied, the ingress keeps its port. */
  async function runFromLot(service: string, port: number): Promise<void> {
    applied.push(...((await applyLotService(platform.config, platform.env, service)) as KubernetesObject[]));
    ingresses.push(await startIngress(KubeClient.fromKubeConfig(kc), parseRoute(lotServiceRoute(platform.config, platform.env, service, port))));
    if (service === "identity") return;
    // The ingress forwards only to ready pods (the kubelet's probes, on the internal port): any answer means one is.
    await eventually(`${service} to answer through the ingress`, async () => ((await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined)) ? true : undefined), 150_000);
    // Its figures and health are on the internal port, which the Service and the ingress do not expose.
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
  }

  /**
   * A person of the lot's identity service with these roles (written in its database as an
   * administrator would grant them), signed in with the demo password.
   */
  async function lotPerson(email: string, memberships: Record<string, Role[]>): Promise<string> {
    const store = await Database.connect(platform.env.MONGODB_URI, "identity", "platform-services-test");
    try {
      const accounts = new AccountRepository(store);
      const passwordHash = await new PasswordHasher(1).hash(ensureLocalSecrets(layout(platform.config).identity).demoPassword);
      const account = (await accounts.findByEmail(email)) ?? (await accounts.create({ kind: "agent", email, givenName: "Test", usualName: "Lot", passwordHash, emailVerified: true }));
      for (const [collectivity, roles] of Object.entries(memberships)) await accounts.setMembership(account._id, collectivity, roles);
    } finally {
      await store.close();
    }
    return demoToken(platform.config, email);
  }

  async function podOf(service: string) {
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/name=${service}` })).items;
    return pods.find((p) => !p.metadata?.deletionTimestamp);
  }

  beforeAll(async () => {
    // The operator writes the platform services' NATS credentials the pods mount.
    operator = await startTestOperator();
  });

  afterAll(async () => {
    for (const ingress of ingresses) ingress.close();
    await nc?.close();
    for (const manifest of applied.reverse()) await objects.delete(manifest).catch(() => undefined);
    // No pod of the lot may outlive this file: the next ones run their own services on the same subjects.
    await eventually("the lot's pods to be gone", async () => ((await core.listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/instance=shared" })).items.length === 0 ? true : undefined), 90_000);
    await core.deletePersistentVolume({ name: `local-${namespace}-sesf-storage` }).catch(() => undefined);
    for (const name of ["sesf-master-key", "identity-keys", "identity-clients", "identity-tls", "identity-seed", "identity-proconnect", "portal-client"]) await core.deleteNamespacedSecret({ name, namespace }).catch(() => undefined);
    rmSync(claimDirectory(layout(platform.config).data, namespace, "sesf-storage"), { recursive: true, force: true });
    await deleteCollectivity(kc, "t-lot-gw").catch(() => undefined);
    await waitForGone(kc, "t-lot-gw").catch(() => undefined);
    await operator?.stop();
  });

  it("when the lot's identity service runs, then it answers over TLS from the local CA on its fixed port, its keys from a Secret, and a demo person signs in", { timeout: 180_000 }, async () => {
    await runFromLot("identity", ports.identity);
    const issuer = platform.env.IDENTITY_ISSUER;
    const discovery = await eventually("the identity to answer through the ingress", async () => {
      const answer = await demoTrustedFetch(`${issuer}/.well-known/openid-configuration`).catch(() => undefined);
      return answer?.ok ? ((await answer.json()) as { issuer: string; jwks_uri: string }) : undefined;
    }, 150_000);
    expect(discovery.issuer).toBe(issuer);
    const pod = await podOf("identity");
    // The keys are the platform's Secret, mounted as a file: the pod's spec holds none.
    expect(JSON.stringify(pod?.spec)).not.toMatch(/"d"\s*:/);
    // Probed in plain HTTP on its internal port, which no Service exposes; the API is TLS only.
    expect(pod?.spec?.containers[0]?.readinessProbe?.httpGet).toMatchObject({ path: "/readyz", port: "internal", scheme: "HTTP" });
    expect((await fetch(`http://${pod?.status?.podIP}:9464/readyz`)).status).toBe(200);
    // Its sign-in page offers ProConnect: the simulator beside the platform, which the pod reaches over TLS.
    const auth = new URL(`${issuer}/auth`);
    for (const [key, value] of Object.entries({ client_id: "mutualis-cli", redirect_uri: "http://127.0.0.1/callback", response_type: "code", scope: "openid email", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256", state: "etat-du-test-de-la-plateforme" })) auth.searchParams.set(key, value);
    const started = await demoTrustedFetch(auth.href, { redirect: "manual" });
    const cookies = started.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const interaction = new URL(started.headers.get("location")!, issuer).href;
    const signIn = await (await demoTrustedFetch(interaction, { headers: { cookie: cookies } })).text();
    expect(signIn).toContain("S’identifier avec ProConnect");
    const toProConnect = await demoTrustedFetch(`${interaction}/proconnect`, { method: "POST", redirect: "manual", headers: { cookie: cookies } });
    expect(toProConnect.status).toBe(303);
    expect(toProConnect.headers.get("location")).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${ports.proconnect}/api/v2/authorize\\?`));
    const token = await demoToken(platform.config, "agent@ville-rennes.example");
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
    expect(claims).toMatchObject({ iss: issuer, aud: "mutualis-api", email: "agent@ville-rennes.example", memberships: { rennes: ["agent"] } });
    // make rotate-keys: the pods sign with a new key; the token signed before still verifies.
    const kidOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString("utf8")) as { kid: string }).kid;
    const rotated = await rotateIdentityKeys(platform.config);
    expect(rotated).not.toBe(kidOf(token));
    const after = await eventually("the new pod to sign with the new key", async () => {
      const next = await demoToken(platform.config, "agent@ville-rennes.example").catch(() => undefined);
      return next && kidOf(next) === rotated ? next : undefined;
    }, 150_000);
    const verifier = new CallerVerifier({ issuer, audience: "mutualis-api", caFile: platform.env.IDENTITY_CA_FILE });
    expect(await verifier.verify(`Bearer ${token}`)).toMatchObject({ email: "agent@ville-rennes.example" });
    expect(await verifier.verify(`Bearer ${after}`)).toMatchObject({ email: "agent@ville-rennes.example" });
  });

  it("when the local lot's observatory is applied, then the node agent runs its pod, restricted, and the local ingress reaches it on the platform's fixed port", { timeout: 180_000 }, async () => {
    await runFromLot("observatory", ports.observatory);
    const page = await (await fetch(`http://127.0.0.1:${ports.observatory}/`)).text();
    expect(page).toContain('lang="fr"');

    const pod = await podOf("observatory");
    expect(pod?.spec?.nodeName).toBe(agentNode);
    expect(pod?.spec?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    // What it was told comes from the lot: the local platform's own Prometheus and NATS.
    const env = Object.fromEntries((pod?.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ OBSERVATORY_PROMETHEUS_URL: platform.env.PROMETHEUS_URL, NATS_URL: platform.env.NATS_URL, MONGODB_DATABASE: "observatory" });
  });

  it("when the local lot's publication service is applied, then its public pages answer on the platform's fixed port, with its own NATS user and database, and links to its public address", { timeout: 180_000 }, async () => {
    await runFromLot("ipl", ports.ipl);
    const home = await (await fetch(`http://127.0.0.1:${ports.ipl}/`)).text();
    expect(home).toContain("Publication des actes des collectivités");
    expect((await fetch(`http://127.0.0.1:${ports.ipl}/donnees-ouvertes/deliberations.csv`)).headers.get("content-type")).toContain("text/csv");
    const pod = await podOf("ipl");
    expect(pod?.spec?.nodeName).toBe(agentNode);
    const env = Object.fromEntries((pod?.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.secretKeyRef?.name]));
    expect(env).toMatchObject({ IPL_PUBLIC_URL: `http://127.0.0.1:${ports.ipl}`, MONGODB_DATABASE: "ipl", MONGODB_URI: "database-ipl" });
  });

  it("when the lot's sesf runs, then its files are on the claim's volume, which outlives the pod: a share uploaded before the pod is replaced downloads after", { timeout: 300_000 }, async () => {
    await runFromLot("sesf", ports.sesf);
    const claim = await core.readNamespacedPersistentVolumeClaim({ name: "sesf-storage", namespace });
    expect(claim.status?.phase).toBe("Bound");
    expect(claim.spec?.volumeName).toBe(`local-${namespace}-sesf-storage`);
    const first = await podOf("sesf");
    // The master key is the platform's Secret, mounted as a file; the pod's spec holds no key.
    expect(JSON.stringify(first?.spec)).not.toMatch(/master\.key"?\s*:/);

    nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(readFileSync((await platformServicesCreds()).client)) });
    await nc.request("platform.sesf.tenants.enable", JSON.stringify({ collectivity: "t-lot-sesf", siren: "213502388", departement: "035", displayName: "t-lot-sesf" }), { timeout: 10_000 });
    // An agent of the collectivity, signed in at the lot's identity service, which sesf's pod trusts.
    const agent = await lotPerson("agent@lot-sesf.test", { "t-lot-sesf": ["agent"] });
    const reply = await nc.request("tenant.t-lot-sesf.sesf.shares.create", JSON.stringify({ description: "Pièces du marché", recipients: [{ email: "titulaire@entreprise.example" }] }), { timeout: 10_000, ...bearer(agent) });
    expect(reply.headers?.get("Nats-Service-Error-Code") ?? "").toBe("");
    const created = reply.json<{ uploadUrl: string; links: { url: string }[] }>();
    // Its public address is the platform's fixed port, from the lot's local profile.
    expect(created.uploadUrl.startsWith(`http://127.0.0.1:${ports.sesf}/`)).toBe(true);
    const content = Buffer.from("Cahier des clauses particulières\n".repeat(1000));
    expect((await fetch(`${created.uploadUrl}/files/ccap.txt`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: content })).status).toBe(201);
    expect((await fetch(`${created.uploadUrl}/complete`, { method: "POST" })).status).toBe(200);
    const stored = claimDirectory(layout(platform.config).data, namespace, "sesf-storage");
    expect(existsSync(join(stored, "t-lot-sesf")) && readdirSync(join(stored, "t-lot-sesf")).length).toBe(1);

    // The pod goes (a node drained, a rollout): its Deployment makes another, on the same volume.
    await core.deleteNamespacedPod({ name: first!.metadata!.name!, namespace });
    await eventually("a new sesf pod to answer", async () => {
      const next = await podOf("sesf");
      if (!next || next.metadata?.name === first!.metadata!.name) return undefined;
      return (await fetch(`http://127.0.0.1:${ports.sesf}/`).catch(() => undefined)) ? true : undefined;
    }, 150_000);
    const link = created.links[0]!.url;
    const listing = (await (await fetch(link)).json()) as { files: { id: string; name: string }[] };
    expect(listing.files.map((f) => f.name)).toEqual(["ccap.txt"]);
    const downloaded = Buffer.from(await (await fetch(`${link}/files/${listing.files[0]!.id}`)).arrayBuffer());
    expect(downloaded.equals(content)).toBe(true);
  });

  it("when the lot's gateway runs, then it verifies its callers' tokens with the lot's identity service and acts as them through its ServiceAccount", { timeout: 300_000 }, async () => {
    await objects.create(collectivityManifest({ name: "t-lot-gw", siren: sirenFrom("21350051"), administrators: { users: ["admin@lot-gw.test"] } }));
    await waitForReady(kc, "t-lot-gw");
    await runFromLot("gateway", ports.gateway);
    const pod = await podOf("gateway");
    expect(pod?.spec?.serviceAccountName).toBe("gateway");

    const list = (bearer?: string) =>
      fetch(`http://127.0.0.1:${ports.gateway}/api/v1/tenants/t-lot-gw/service-instances`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
    expect((await list()).status).toBe(401);
    // The API server judges each call as the caller's own (the gateway forwards their token).
    const create = (bearer: string) =>
      fetch(`http://127.0.0.1:${ports.gateway}/api/v1/tenants/t-lot-gw/service-instances`, {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "parapheur", service: "parapheur" }),
      });
    const admin = await lotPerson("admin@lot-gw.test", { "t-lot-gw": ["agent"] });
    const answered = await list(admin);
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual([]);
    // An agent sees which services the collectivity has, but only an administrator asks for one.
    const agentToken = await lotPerson("nobody@lot-gw.test", { "t-lot-gw": ["agent"] });
    expect((await list(agentToken)).status).toBe(200);
    expect((await create(agentToken)).status).toBe(403);
    expect((await create(admin)).status).toBe(201);
    // Someone of another collectivity is refused by the gateway.
    expect((await list(await lotPerson("ailleurs@lot-gw.test", { rennes: ["administrateur"] }))).status).toBe(403);
  });

  it("when the lot's portal runs, then it offers to sign in and sends people to the lot's identity service as its own client", { timeout: 180_000 }, async () => {
    await runFromLot("portal", ports.portal);
    const home = await fetch(`http://127.0.0.1:${ports.portal}/`);
    expect(await home.text()).toContain("Se connecter");
    const toIdentity = await fetch(`http://127.0.0.1:${ports.portal}/connexion`, { redirect: "manual" });
    expect(toIdentity.status).toBe(303);
    const authorize = new URL(toIdentity.headers.get("location")!);
    expect(authorize.origin).toBe(platform.env.IDENTITY_ISSUER);
    expect(authorize.searchParams.get("client_id")).toBe("mutualis-portal");
    expect(authorize.searchParams.get("redirect_uri")).toBe(`http://127.0.0.1:${ports.portal}/retour`);
    // The identity knows the portal as a client: its sign-in page opens.
    const opened = await demoTrustedFetch(authorize.href, { redirect: "manual" });
    expect(opened.status).toBe(303);
    expect(opened.headers.get("location")).toMatch(/^\/interaction\//);
  });

  it("when no pod of the Service is ready, then the ingress closes the connection rather than hang", async () => {
    const closed = await startIngress(KubeClient.fromKubeConfig(kc), parseRoute(`${ports.observatory + 100}=${namespace}/app.kubernetes.io/name=nothing-here:8080`));
    try {
      await expect(fetch(`http://127.0.0.1:${ports.observatory + 100}/`)).rejects.toThrow();
    } finally {
      closed.close();
    }
  });
});
