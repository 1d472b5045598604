import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actesService, actesSettings } from "@mutualis/actes";
import { flowsService, flowsSettings } from "@mutualis/flows";
import { currentCode } from "@mutualis/identity";
import { iplService, iplSettings } from "@mutualis/ipl";
import { parapheurService, parapheurSettings } from "@mutualis/parapheur";
import { letterPdf, prefectureSimulator, simulatorSettings } from "@mutualis/prefecture-simulator";
import { loadSettings, RunningService, type Role } from "@mutualis/service-kit";
import { bearer, startTestIdentity, type TestIdentity } from "../support/identity.ts";
import { eventually } from "../support/platform.ts";
import { serviceSettings, smallStreams, testServicesAccount } from "../support/services.ts";

const run = randomBytes(3).toString("hex");
let client: NatsConnection;
let identity: TestIdentity;
let dispose: () => Promise<void>;
const dir = mkdtempSync(join(tmpdir(), "flows-it-"));
writeFileSync(join(dir, "master.key"), randomBytes(32).toString("base64"), { mode: 0o600 });

type Name = "parapheur" | "ipl" | "flows" | "actes" | "prefecture-simulator";
const services = new Map<Name, RunningService>();
let common: Record<string, string>;
const starters: Record<Name, () => Promise<RunningService>> = {
  parapheur: () =>
    new RunningService(
      parapheurService(),
      loadSettings(parapheurSettings, { ...common, SERVICE_NAME: "parapheur", MONGODB_DATABASE: `flows_${run}_parapheur`, PARAPHEUR_MASTER_KEY_FILE: join(dir, "master.key"), PARAPHEUR_FILES_MAX_BYTES: String(32 * 2 ** 20), PARAPHEUR_FLOW_SWEEP_SECONDS: "1" }),
    ).start(),
  actes: () =>
    new RunningService(actesService(), loadSettings(actesSettings, { ...common, SERVICE_NAME: "actes", MONGODB_DATABASE: `flows_${run}_actes`, ACTES_STREAM_PREFIX: `ACTES_FLOWS_${run.toUpperCase()}`, ACTES_PUBLISH: "true" })).start(),
  "prefecture-simulator": () =>
    new RunningService(prefectureSimulator(), loadSettings(simulatorSettings, { ...common, SERVICE_NAME: "prefecture-simulator", MONGODB_DATABASE: `flows_${run}_prefecture`, SIMULATOR_ACK_DELAY_MS: "50" })).start(),
  ipl: () => new RunningService(iplService(), loadSettings(iplSettings, { ...common, SERVICE_NAME: "ipl", MONGODB_DATABASE: `flows_${run}_ipl` })).start(),
  flows: () =>
    new RunningService(
      flowsService(),
      loadSettings(flowsSettings, { ...common, SERVICE_NAME: "flows", MONGODB_DATABASE: `flows_${run}`, FLOWS_STREAM_MAX_BYTES: String(8 * 2 ** 20), FLOWS_FILES_MAX_BYTES: String(32 * 2 ** 20), FLOWS_MAX_DELIVERIES: "4", FLOWS_REQUEUE_AFTER_SECONDS: "2" }),
    ).start(),
};
const start = async (name: Name) => services.set(name, await starters[name]());
const stop = async (name: Name) => {
  await services.get(name)?.stop();
  services.delete(name);
};

const roles: Record<string, Role[]> = { "admin@rennes.example": ["administrateur"], "secretariat@rennes.example": ["secretaire"], "maire@rennes.example": ["elu", "signataire"], "agent@brest.example": ["agent"] };

async function call<T = Record<string, unknown>>(subject: string, body: unknown, as: string): Promise<{ status: number; body: T; message: string }> {
  const token = await identity.tokenFor(as, { [as.split("@")[1]!.split(".")[0]!]: roles[as] ?? ["agent"] });
  const reply = await client.request(subject, JSON.stringify(body), { timeout: 30_000, ...bearer(token) });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  return { status: code ? Number(code) : 200, body: reply.json<T>(), message: reply.headers?.get("Nats-Service-Error") ?? "" };
}

let authenticator: { secret: string; step: number } | undefined;
async function confirmation(purpose: string): Promise<string> {
  const as = "maire@rennes.example";
  authenticator ??= { secret: (await call<{ secret: string }>("tenant.rennes.identity.second-factor.enrol", {}, as)).body.secret, step: Math.floor(Date.now() / 30_000) - 1 };
  authenticator.step = Math.max(authenticator.step + 1, Math.floor(Date.now() / 30_000));
  const wait = (authenticator.step - 1) * 30_000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 100));
  return (await call<{ confirmation: string }>("tenant.rennes.identity.second-factor.confirm", { code: await currentCode(authenticator.secret, authenticator.step * 30), purpose }, as)).body.confirmation;
}

interface DocumentView {
  id: string;
  state: string;
  steps: { service: string; state: string; ref?: string; url?: string; reason?: string; attempts: number }[];
  signer?: { name: string; title?: string };
  acknowledgement?: { act: string; identifier: string; acknowledgedOn?: string };
  history: { event: string }[];
}

const getDocument = async (id: string) => (await call<DocumentView>("tenant.rennes.flows.documents.get", { id }, "secretariat@rennes.example")).body;
const startDocument = (kind: string, numeroInterne: string, objet: string) =>
  call<DocumentView>(
    "tenant.rennes.flows.documents.start",
    { kind, numeroInterne, objet, date: "2026-12-01", document: { name: "arrete.pdf", mimeType: "application/pdf", contentBase64: letterPdf(objet, ["Article 1 : il est nommé."]).toString("base64") } },
    "secretariat@rennes.example",
  );

describe("flows: an arrêté through its circuit, then published, step by step on a durable consumer", () => {
  beforeAll(async () => {
    const account = await testServicesAccount("platform-services-flows-test");
    ({ client, dispose } = account);
    identity = await startTestIdentity(account.credsFile, `flows_${run}_identity`, []);
    common = { ...serviceSettings(account.credsFile), ...smallStreams, ...identity.verifierSettings };
    for (const name of ["prefecture-simulator", "actes", "parapheur", "ipl", "flows"] as const) await start(name);
    const rennes = { collectivity: "rennes", siren: "213502388", departement: "035", displayName: "Ville de Rennes", authority: { departement: "035", arrondissement: 3, nature: "31", siret: "21350238800019" } };
    for (const service of ["actes", "parapheur", "ipl", "flows"]) expect((await call(`platform.${service}.tenants.enable`, rennes, "admin@rennes.example")).status).toBe(200);
    const admin = "admin@rennes.example";
    for (const desk of [
      { id: "secretariat", name: "Secrétariat", owners: ["secretariat@rennes.example"] },
      { id: "maire", name: "Maire", owners: ["maire@rennes.example"] },
    ]) {
      expect((await call("tenant.rennes.parapheur.desks.save", { desk }, admin)).status).toBe(200);
    }
    const type = { id: "arrete", name: "Arrêté", protocol: "NONE", signatureFormat: "PADES", subtypes: [{ id: "individuel", name: "Arrêté individuel", circuit: [{ type: "SIGNATURE", desks: ["maire"] }] }] };
    expect((await call("tenant.rennes.parapheur.types.save", { type }, admin)).status).toBe(200);
    const deliberation = { id: "deliberation", name: "Délibération", protocol: "ACTES", signatureFormat: "PADES", subtypes: [{ id: "conseil", name: "Conseil municipal", circuit: [{ type: "SIGNATURE", desks: ["maire"] }] }] };
    expect((await call("tenant.rennes.parapheur.types.save", { type: deliberation }, admin)).status).toBe(200);
    const deliberations = { kind: "deliberation", name: "Délibérations", nature: 1, classification: "7.1", steps: [{ service: "parapheur", type: "deliberation", subtype: "conseil", desk: "secretariat" }, { service: "actes" }, { service: "ipl" }] };
    expect((await call("tenant.rennes.flows.definitions.save", { flow: deliberations }, admin)).status).toBe(200);
    expect((await call("tenant.rennes.parapheur.certificates.issue", { email: "maire@rennes.example", commonName: "Anne Kervella", title: "Maire" }, admin)).status).toBe(200);
    const flow = { kind: "arrete-individuel", name: "Arrêtés individuels", nature: 3, classification: "4.1", steps: [{ service: "parapheur", type: "arrete", subtype: "individuel", desk: "secretariat" }, { service: "ipl" }] };
    const saved = await call("tenant.rennes.flows.definitions.save", { flow }, admin);
    expect(saved.status, saved.message).toBe(200);
  }, 120_000);

  afterAll(async () => {
    for (const name of ["flows", "ipl", "parapheur", "actes", "prefecture-simulator"] as const) await stop(name);
    await identity?.stop();
    await client?.close();
    await dispose?.();
  });

  it("when each service is restarted in turn along the way, then the arrêté is signed once, published once with its signer as author, and its flow says so step by step", async () => {
    const started = await startDocument("arrete-individuel", `A${run.toUpperCase()}1`, "Nomination d'un agent");
    expect(started.status, started.message).toBe(200);
    const id = started.body.id;
    const sent = await eventually("the arrêté to be in its circuit", async () => ((await getDocument(id)).steps[0]!.state === "running" ? getDocument(id) : undefined), 30_000);
    const folder = sent.steps[0]!.ref!;

    // The parapheur restarts: the folder is still there, waiting for the mayor.
    await stop("parapheur");
    await start("parapheur");
    const waiting = await call<{ folders: { id: string }[] }>("tenant.rennes.parapheur.folders.list", {}, "maire@rennes.example");
    expect(waiting.body.folders.map((f) => f.id)).toContain(folder);

    // The flows and the publication are down when she signs: the end waits on the stream, the publication is retried.
    await stop("flows");
    await stop("ipl");
    const signed = await call("tenant.rennes.parapheur.folders.sign", { id: folder, confirmation: await confirmation(`parapheur.sign:${folder}`) }, "maire@rennes.example");
    expect(signed.status, signed.message).toBe(200);
    await start("flows");
    await eventually("the flow to take the signature", async () => ((await getDocument(id)).steps[0]!.state === "done" ? true : undefined), 30_000);
    await start("ipl");
    const done = await eventually("the arrêté to be published", async () => {
      const d = await getDocument(id);
      return d.state === "done" ? d : undefined;
    }, 60_000);
    expect(done.steps.map((s) => s.state)).toEqual(["done", "done"]);
    expect(done.signer).toMatchObject({ name: "Anne Kervella", title: "Maire" });
    expect(done.history.map((h) => h.event)).toEqual(expect.arrayContaining(["started", "sent into its circuit", "signed", "published", "flow finished"]));

    // Once: one folder, one publication, of the signed PDF, with its author.
    const folders = await call<{ folders: { id: string; name: string }[] }>("tenant.rennes.parapheur.folders.list", { view: "all" }, "admin@rennes.example");
    expect(folders.body.folders.filter((f) => f.name.startsWith(`A${run.toUpperCase()}1`))).toHaveLength(1);
    const publications = await call<{ identifier: string; sha256: string; url: string }[]>("tenant.rennes.ipl.list", {}, "admin@rennes.example");
    const mine = publications.body.filter((p) => p.identifier === `A${run.toUpperCase()}1`);
    expect(mine).toHaveLength(1);
    const detail = await call<{ documents: { signedSha256: string }[] }>("tenant.rennes.parapheur.folders.get", { id: folder }, "admin@rennes.example");
    expect(mine[0]!.sha256).toBe(detail.body.documents[0]!.signedSha256);
    const page = await fetch(`${services.get("ipl")!.url}/rennes/actes/${done.steps[1]!.url!.split("/").at(-1)}`);
    expect(await page.text()).toContain("Anne Kervella");
    // The same act started again is the same document.
    expect((await startDocument("arrete-individuel", `A${run.toUpperCase()}1`, "Nomination d'un agent")).status).toBe(409);
  });

  it("when a délibération is signed, then it goes to the prefecture, and once acknowledged it is published once, with its @ctes identifier and the day of its acknowledgement", async () => {
    const numero = `D${run.toUpperCase()}1`;
    const { body, status, message } = await startDocument("deliberation", numero, "Budget primitif 2027");
    expect(status, message).toBe(200);
    const folder = (await eventually("the circuit", async () => (await getDocument(body.id)).steps[0]!.ref, 30_000))!;
    expect((await call("tenant.rennes.parapheur.folders.sign", { id: folder, confirmation: await confirmation(`parapheur.sign:${folder}`) }, "maire@rennes.example")).status).toBe(200);
    const done = await eventually("the délibération to be published", async () => {
      const d = await getDocument(body.id);
      return d.state === "done" || d.state === "parked" || d.state === "rejected" ? d : undefined;
    }, 90_000);
    expect(done.state, JSON.stringify(done.steps)).toBe("done");
    expect(done.steps.map((s) => s.state)).toEqual(["done", "done", "done"]);
    const act = await call<{ id: string; status: string; identifier: string; files: { sha256: string }[] }>("tenant.rennes.actes.get", { id: done.steps[1]!.ref }, "admin@rennes.example");
    expect(act.body.status).toBe("acknowledged");
    const signed = await call<{ documents: { signedSha256: string }[] }>("tenant.rennes.parapheur.folders.get", { id: folder }, "admin@rennes.example");
    expect(act.body.files[0]!.sha256).toBe(signed.body.documents[0]!.signedSha256);
    const publications = await call<{ id: string; identifier: string }[]>("tenant.rennes.ipl.list", {}, "admin@rennes.example");
    expect(publications.body.filter((p) => p.id === act.body.id)).toEqual([expect.objectContaining({ identifier: act.body.identifier })]);
    expect((await getDocument(body.id)).acknowledgement).toMatchObject({ act: act.body.id, identifier: act.body.identifier, acknowledgedOn: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
  });

  it("when the mayor rejects the arrêté, then its flow stops there with her reason, and nothing is published", async () => {
    const { body } = await startDocument("arrete-individuel", `A${run.toUpperCase()}2`, "Mutation");
    const folder = (await eventually("the circuit", async () => (await getDocument(body.id)).steps[0]!.ref, 30_000))!;
    expect((await call("tenant.rennes.parapheur.folders.reject", { id: folder, reason: "Le poste n'existe plus." }, "maire@rennes.example")).status).toBe(200);
    const rejected = await eventually("the flow to stop", async () => {
      const d = await getDocument(body.id);
      return d.state === "rejected" ? d : undefined;
    }, 30_000);
    expect(rejected.steps.map((s) => s.state)).toEqual(["rejected", "waiting"]);
    expect(rejected.steps[0]!.reason).toBe("rejeté par le bureau maire : Le poste n'existe plus.");
  });

  it("when a step keeps failing, then it is retried, parked with its reason after its last try, and sent again by an agent once its cause is fixed", async () => {
    const admin = "admin@rennes.example";
    const flow = { kind: "note", name: "Notes", nature: 6, classification: "5.2", steps: [{ service: "parapheur", type: "arrete", subtype: "individuel", desk: "cabinet" }, { service: "ipl" }] };
    expect((await call("tenant.rennes.flows.definitions.save", { flow }, admin)).status).toBe(200);
    const { body } = await startDocument("note", `N${run.toUpperCase()}`, "Note de service");
    const parked = await eventually("the step to be parked", async () => {
      const d = await getDocument(body.id);
      return d.state === "parked" ? d : undefined;
    }, 60_000);
    expect(parked.steps[0]).toMatchObject({ state: "parked", attempts: 4 });
    expect(parked.steps[0]!.reason).toMatch(/no desk cabinet/);
    expect((await call("tenant.rennes.parapheur.desks.save", { desk: { id: "cabinet", name: "Cabinet", owners: ["secretariat@rennes.example"] } }, admin)).status).toBe(200);
    expect((await call("tenant.rennes.flows.documents.retry", { id: body.id }, "secretariat@rennes.example")).status).toBe(200);
    await eventually("the step to run", async () => ((await getDocument(body.id)).steps[0]!.state === "running" ? true : undefined), 30_000);
  });

  it("when the flows' contract is read on their internal port, then it is AsyncAPI, and a real answer passes its published schema with Ajv", async () => {
    const contract = (await (await fetch(`${services.get("flows")!.internalUrl}/asyncapi.json`)).json()) as {
      asyncapi: string;
      channels: Record<string, { address: string | null; messages: Record<string, { payload: object }> }>;
      operations: Record<string, { action: string }>;
    };
    expect(contract.asyncapi).toBe("3.0.0");
    expect(Object.values(contract.channels).map((c) => c.address)).toEqual(expect.arrayContaining(["tenant.{collectivity}.flows.documents.get", "flows.signal.{collectivity}", "flows.run.{collectivity}"]));
    // Draft 2020-12 is what zod writes; its keywords here are draft-07's too. Formats are not Ajv's core.
    const { $schema: _, ...schema } = contract.channels["tenant-_-flows-documents-get-reply"]!.messages.answer!.payload as { $schema?: string };
    const answer = new Ajv({ strict: false, validateFormats: false }).compile(schema);
    const { body } = await startDocument("arrete-individuel", `A${run.toUpperCase()}9`, "Contrat");
    expect(answer(await getDocument(body.id)), JSON.stringify(answer.errors)).toBe(true);
    // The same schema refuses what the service must never answer.
    expect(answer({ ...(await getDocument(body.id)), state: "lost" })).toBe(false);
  });

  it("when a flow is saved out of order, or another collectivity asks for a document, then it is refused", async () => {
    const bad = await call("tenant.rennes.flows.definitions.save", { flow: { kind: "x", name: "X", nature: 1, classification: "1.1", steps: [{ service: "ipl" }, { service: "parapheur", type: "arrete", subtype: "individuel", desk: "maire" }] } }, "admin@rennes.example");
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/the circuit comes first, once/);
    const { body } = await startDocument("arrete-individuel", `A${run.toUpperCase()}3`, "Nomination");
    expect((await call("tenant.rennes.flows.documents.get", { id: body.id }, "agent@brest.example")).status).toBe(403);
    expect((await call("tenant.brest.flows.documents.get", { id: body.id }, "agent@brest.example")).status).toBe(404);
    expect((await startDocument("inconnu", "X1", "x")).status).toBe(400);
  });
});
