import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actesService, actesSettings } from "@mutualis/actes";
import { restart } from "@mutualis/local-platform";
import { prefectureSimulator, simulatorSettings } from "@mutualis/prefecture-simulator";
import { loadSettings, RunningService } from "@mutualis/service-kit";
import { bearer, startTestIdentity, type TestIdentity } from "../support/identity.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { smallStreams, testServicesAccount } from "../support/services.ts";

const platform = testPlatform();
const run = randomBytes(3).toString("hex");
const pdf = (text: string) => Buffer.from(`%PDF-1.7\n% ${text}\n%%EOF\n`).toString("base64");
let credsFile: string;
let client: NatsConnection;
let actes: RunningService;
let simulator: RunningService;
let identity: TestIdentity;
let dispose: () => Promise<void>;

interface ActView {
  id: string;
  status: string;
  statusLabel: string;
  identifier?: string;
  reason?: string;
  history: { status: string }[];
  exchanges: { direction: string; message: string; envelope: string; file: string; detail?: string }[];
}

const startActes = () =>
  new RunningService(
    actesService(),
    loadSettings(actesSettings, {
      SERVICE_NAME: "actes",
      HTTP_PORT: "0",
      HTTP_INTERNAL_PORT: "0",
      HTTP_HOST: "127.0.0.1",
      NATS_URL: platform.env.NATS_URL,
      NATS_CREDS_FILE: credsFile,
      MONGODB_URI: platform.env.MONGODB_URI,
      MONGODB_DATABASE: `actes_${run}`,
      ACTES_MAX_FILE_BYTES: "65536",
      ACTES_STREAM_PREFIX: `ACTES_${run.toUpperCase()}`,
      ...smallStreams,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
      ...identity.verifierSettings,
    }),
  ).start();

const startSimulator = (ackDelayMs = 100) =>
  new RunningService(
    prefectureSimulator(),
    loadSettings(simulatorSettings, {
      SERVICE_NAME: "prefecture-simulator",
      HTTP_PORT: "0",
      HTTP_INTERNAL_PORT: "0",
      HTTP_HOST: "127.0.0.1",
      NATS_URL: platform.env.NATS_URL,
      NATS_CREDS_FILE: credsFile,
      MONGODB_URI: platform.env.MONGODB_URI,
      MONGODB_DATABASE: `prefecture_${run}`,
      SIMULATOR_ACK_DELAY_MS: String(ackDelayMs),
      ...smallStreams,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
    }),
  ).start();

/** An agent of the collectivity: the caller of a tenant subject unless the test says who. */
const agentOf = (collectivity: string) => identity.tokenFor(`agent@${collectivity}.example`, { [collectivity]: ["agent"] });

async function call<T>(subject: string, body: unknown, token?: string): Promise<{ status: number; body: T }> {
  const [root, collectivity] = subject.split(".");
  const as = token ?? (root === "tenant" ? await agentOf(collectivity!) : undefined);
  const reply = await client.request(subject, JSON.stringify(body), { timeout: 10_000, ...(as ? bearer(as) : {}) });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  return { status: code ? Number(code) : 200, body: reply.json<T>() };
}

function act(numeroInterne: string, change: Record<string, unknown> = {}) {
  return {
    numeroInterne,
    nature: 1,
    classification: "7.1",
    objet: "Budget primitif 2027 de la ville",
    date: "2026-11-20",
    document: { fileName: "deliberation.pdf", mimeType: "application/pdf", contentBase64: pdf("deliberation") },
    annexes: [{ fileName: "annexe.pdf", mimeType: "application/pdf", contentBase64: pdf("annexe") }],
    ...change,
  };
}

async function waitForStatus(collectivity: string, id: string, status: string): Promise<ActView> {
  return eventually(`act ${id} to be ${status}`, async () => {
    const { body } = await call<ActView>(`tenant.${collectivity}.actes.get`, { id });
    return body.status === status ? body : undefined;
  }, 60_000);
}

describe("the actes service with the prefecture simulator, over real NATS JetStream and FerretDB", () => {
  beforeAll(async () => {
    ({ credsFile, client, dispose } = await testServicesAccount("platform-services-test"));
    identity = await startTestIdentity(credsFile, `actes_${run}_identity`, []);
    simulator = await startSimulator();
    actes = await startActes();
    for (const [collectivity, siren, departement, arrondissement] of [["rennes", "213502388", "035", 3], ["brest", "212900195", "029", 1], ["faux", "123456789", "035", 3]] as const) {
      const authority = { departement, arrondissement, nature: "31" };
      await call("platform.actes.tenants.enable", { collectivity, siren, departement, displayName: collectivity === "rennes" ? "Ville de Rennes – Hôtel de ville" : collectivity, authority });
    }
    // Enabled, but its Collectivity does not say what @ctes needs to know of it.
    await call("platform.actes.tenants.enable", { collectivity: "vitre", siren: "213503600", departement: "35", displayName: "Vitré" });
    // A second tenant under Rennes's SIREN: its acts have the identifiers Rennes's have.
    await call("platform.actes.tenants.enable", { collectivity: "rennes-bis", siren: "213502388", departement: "035", displayName: "Rennes (bis)", authority: { departement: "035", arrondissement: 3, nature: "31" } });
  });

  afterAll(async () => {
    await actes?.stop();
    await simulator?.stop();
    await identity?.stop();
    await client?.close();
    await dispose?.();
  });

  it("when Rennes submits a valid act, then it is transmitted and acknowledged with the prefecture's identifier", async () => {
    const submitted = await call<ActView>("tenant.rennes.actes.submit", act("D2026_001"));
    expect(submitted.status).toBe(200);
    const acknowledged = await waitForStatus("rennes", submitted.body.id, "acknowledged");
    expect(acknowledged.identifier).toBe("035-213502388-20261120-D2026_001-DE");
    expect(acknowledged.statusLabel).toBe("Acquittement reçu");
    expect(acknowledged.history.map((h) => h.status)).toEqual(["posted", "waitingForTransmission", "transmitted", "acknowledged"]);
    expect(acknowledged.exchanges.map((e) => `${e.direction} ${e.message} ${e.file}`)).toEqual([
      "sent Acte 035-213502388-20261120-D2026_001-DE-1-1_0.xml",
      "received ARActe 035-213502388-20261120-D2026_001-DE-1-2_0.xml",
    ]);
    expect(acknowledged.exchanges[1]!.detail).toMatch(/^reçu le 20[0-9-]+, classification en vigueur du 2026-01-01$/);
  });

  it("when an act's identifier was already transmitted, then the prefecture answers with an AnomalieActe and the act is refused with its nature and detail", async () => {
    const submitted = await call<ActView>("tenant.rennes-bis.actes.submit", act("D2026_001"));
    const refused = await waitForStatus("rennes-bis", submitted.body.id, "refused");
    expect(refused.reason).toBe("anomalie 002 : l'identifiant d'acte 035-213502388-20261120-D2026_001-DE a déjà été transmis");
    expect(refused.exchanges.map((e) => e.message)).toEqual(["Acte", "AnomalieActe"]);
  });

  it.each([
    ["a nature of 9", { nature: 9 }, "nature: must be 1 to 6"],
    ["a lower-case number", { numeroInterne: "d-1" }, "numeroInterne: must be 2 to 15 capital letters"],
    ["a Word file renamed to PDF", { document: { fileName: "x.pdf", mimeType: "application/pdf", contentBase64: Buffer.from("\xd0\xcf\x11\xe0 word").toString("base64") } }, "document: x.pdf is not a PDF file"],
    ["an object of 600 characters", { objet: "x".repeat(600) }, "objet: must be at most 499 characters"],
    ["a date in the future", { date: "2099-01-01" }, "date: an act cannot be dated in the future"],
    ["a one-level matière", { classification: "7" }, "CodeMatiere1 and CodeMatiere2 are required"],
    ["a matière the classification does not have", { classification: "7.11" }, "classification: 7.11 is not a matière of the classification of 2026-01-01"],
    [
      "a typology the prefecture does not allow",
      { annexes: [{ fileName: "a.pdf", mimeType: "application/pdf", typology: "12_XX", contentBase64: pdf("a") }] },
      "annexes.0.typology: 12_XX is not a typology of délibérations (allowed: 99_DE, 99_AU, 41_NC",
    ],
    ["a typology that is not one", { annexes: [{ fileName: "a.pdf", mimeType: "application/pdf", typology: "annexe", contentBase64: pdf("a") }] }, "annexes.0.typology: must be an @ctes typology"],
  ])("when an act has %s, then it is refused with 400 and the reason, and nothing is stored", async (_case, change, reason) => {
    const before = (await call<ActView[]>("tenant.rennes.actes.list", {})).body.length;
    const answer = await call<{ details: string[] }>("tenant.rennes.actes.submit", act(`BAD_${run.toUpperCase()}`, change));
    expect(answer.status).toBe(400);
    expect(answer.body.details.join("\n")).toContain(reason);
    expect((await call<ActView[]>("tenant.rennes.actes.list", {})).body.length).toBe(before);
  });

  it("when a collectivity does not declare its @ctes identification, then its acts are refused with 409 saying what is missing", async () => {
    const answer = await call<{ error: string }>("tenant.vitre.actes.submit", act("D2026_001"));
    expect(answer.status).toBe(409);
    expect(JSON.stringify(answer.body)).toContain("its Collectivity needs spec.actes (département, arrondissement, nature)");
  });

  it("when Rennes sends two acts on one day, then each goes in an archive of its own name, numbered in the day, and the prefecture reads their latin-1 subjects as written", async () => {
    const objet = "Délibération : vœux du conseil municipal, « façade » de l'hôtel de ville";
    expect((await call<{ details: string[] }>("tenant.rennes.actes.submit", act("D2026_020", { objet }))).body.details.join()).toContain('has no "œ" (U+0153)');
    const latin1 = objet.replace("vœux", "voeux");
    const first = (await call<ActView>("tenant.rennes.actes.submit", act("D2026_020", { objet: latin1 }))).body;
    const second = (await call<ActView>("tenant.rennes.actes.submit", act("D2026_021", { objet: latin1 }))).body;
    const [a, b] = [await waitForStatus("rennes", first.id, "acknowledged"), await waitForStatus("rennes", second.id, "acknowledged")];
    const archives = [(a as ActView & { archive: string }).archive, (b as ActView & { archive: string }).archive];
    expect(archives[0]).toMatch(/^MUT-EACT--213502388--[0-9]{8}-[0-9]+\.tar\.gz$/);
    expect(new Set(archives).size).toBe(2);
    const mongo = await new MongoClient(platform.env.MONGODB_URI).connect();
    try {
      const received = await mongo.db(`prefecture_${run}`).collection("transmissions").find({ _id: { $in: [first.id, second.id] } as never }).toArray();
      expect(received.map((t) => t.act.objet)).toEqual([latin1, latin1]);
      expect(received.map((t) => t.archiveName).sort()).toEqual([...archives].sort());
    } finally {
      await mongo.close();
    }
  });

  it("when a budget document is XML, an act replaces another, or files carry their typology, then the prefecture receives them so", async () => {
    const budget = {
      nature: 5,
      classification: "7.1",
      document: { fileName: "bp2027.xml", mimeType: "application/xml", typology: "99_BF", contentBase64: Buffer.from('<?xml version="1.0"?><DocumentBudgetaire/>').toString("base64") },
      annexes: [{ fileName: "note.pdf", mimeType: "application/pdf", typology: "41_NC", contentBase64: pdf("note") }],
      precedent: "035-213502388-20261001-B2026_000-BF",
    };
    const submitted = (await call<ActView & { files: { typology: string }[] }>("tenant.rennes.actes.submit", act("B2026_001", budget))).body;
    expect(submitted.files.map((f) => f.typology)).toEqual(["99_BF", "41_NC"]);
    await waitForStatus("rennes", submitted.id, "acknowledged");
    const mongo = await new MongoClient(platform.env.MONGODB_URI).connect();
    try {
      const received = await mongo.db(`prefecture_${run}`).collection("transmissions").findOne({ _id: submitted.id as never });
      expect(received!.act).toMatchObject({ nature: 5, precedent: "035-213502388-20261001-B2026_000-BF" });
    } finally {
      await mongo.close();
    }
  });

  it("when a signed act is sent, then its detached CAdES signature travels in its metadata, and openssl verifies it against the act and refuses it for an altered copy", async () => {
    const dir = mkdtempSync(join(tmpdir(), "actes-signature-"));
    const document = Buffer.from(`%PDF-1.7\n% arrêté signé ${run}\n%%EOF\n`, "latin1");
    writeFileSync(join(dir, "acte.pdf"), document);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=Maire de Rennes");
    openssl("cms", "-sign", "-binary", "-in", "acte.pdf", "-signer", "cert.pem", "-inkey", "key.pem", "-outform", "DER", "-out", "acte.p7s");
    const signed = act("A2026_050", {
      nature: 3,
      classification: "4.1",
      document: { fileName: "arrete.pdf", mimeType: "application/pdf", contentBase64: document.toString("base64"), signatureBase64: readFileSync(join(dir, "acte.p7s")).toString("base64") },
      annexes: [],
    });
    expect((await call<{ details: string[] }>("tenant.rennes.actes.submit", { ...signed, numeroInterne: "A2026_051", document: { ...signed.document, signatureBase64: pdf("not a signature") } })).body.details).toContain(
      "document.signatureBase64: is not a detached CMS (CAdES) signature in DER",
    );
    const submitted = (await call<ActView & { files: { signed?: boolean }[] }>("tenant.rennes.actes.submit", signed)).body;
    expect(submitted.files[0]!.signed).toBe(true);
    const acknowledged = await waitForStatus("rennes", submitted.id, "acknowledged");
    const sent = acknowledged.exchanges[0]!;
    const mongo = await new MongoClient(platform.env.MONGODB_URI).connect();
    try {
      const kept = await mongo.db(`actes_${run}`).collection("documents").findOne({ _id: `${submitted.id}/exchanges/${sent.envelope.replace(/\.xml$/, "")}/${sent.file}` as never });
      const metadata = Buffer.from(kept!.content.buffer).toString("latin1");
      const signature = /<actes:Signature>([^<]+)<\/actes:Signature>/.exec(metadata)![1]!;
      writeFileSync(join(dir, "received.p7s"), Buffer.from(signature, "base64"));
    } finally {
      await mongo.close();
    }
    openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", "received.p7s", "-content", "acte.pdf", "-CAfile", "cert.pem", "-out", "/dev/null");
    writeFileSync(join(dir, "altered.pdf"), Buffer.concat([document, Buffer.from("%")]));
    expect(() => openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", "received.p7s", "-content", "altered.pdf", "-CAfile", "cert.pem", "-out", "/dev/null")).toThrow();
  });

  it("when an annex is larger than a message can carry, then it is uploaded in parts to the object store, named by the act, and the prefecture receives it byte for byte in the archive; the object store's own client reads both", async () => {
    // 20 MiB: more than NATS's max_payload (8 MiB) and than a MongoDB document (16 MiB).
    const annex = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < annex.length; i += 4) annex.writeUInt32LE((i * 2654435761) >>> 0, i);
    annex.write("%PDF-1.7\n", 0, "latin1");
    const sha256 = createHash("sha256").update(annex).digest("hex");
    type UploadView = { id: string; state: string; chunks: number; received: number; chunkBytes: number };
    const started = await call<UploadView>("tenant.rennes.actes.uploads.start", { fileName: "plan-local-urbanisme.pdf", mimeType: "application/pdf", size: annex.length, sha256 });
    expect(started.status).toBe(200);
    const { id, chunkBytes } = started.body;
    const chunk = (index: number) => ({ id, index, contentBase64: annex.subarray(index * chunkBytes, (index + 1) * chunkBytes).toString("base64") });
    expect((await call<UploadView>("tenant.rennes.actes.uploads.chunk", chunk(0))).body.received).toBe(chunkBytes);
    // A chunk sent again changes nothing; one out of order is refused.
    expect((await call<UploadView>("tenant.rennes.actes.uploads.chunk", chunk(0))).body).toMatchObject({ chunks: 1, received: chunkBytes });
    expect((await call("tenant.rennes.actes.uploads.chunk", chunk(2))).status).toBe(409);
    // Another agent of Rennes may not add to it; Brest does not even see it.
    const colleague = await identity.tokenFor("collegue@rennes.example", { rennes: ["agent"] });
    expect((await call("tenant.rennes.actes.uploads.chunk", chunk(1), colleague)).status).toBe(403);
    expect((await call("tenant.brest.actes.uploads.get", { id })).status).toBe(404);
    // Not finished before every byte has arrived.
    expect((await call("tenant.rennes.actes.uploads.finish", { id })).status).toBe(409);
    for (let index = 1; index * chunkBytes < annex.length; index++) expect((await call("tenant.rennes.actes.uploads.chunk", chunk(index))).status).toBe(200);
    expect((await call<UploadView>("tenant.rennes.actes.uploads.finish", { id })).body).toMatchObject({ state: "complete", received: annex.length, chunks: 20 });

    const submitted = await call<ActView & { files: { fileName: string; size: number; sha256: string }[] }>("tenant.rennes.actes.submit", act("U2026_001", {
      annexes: [{ upload: id, typology: "99_AU" }],
    }));
    expect(submitted.status).toBe(200);
    expect(submitted.body.files[1]).toMatchObject({ fileName: "plan-local-urbanisme.pdf", size: annex.length, sha256 });
    // An upload is the file of one act only.
    expect((await call("tenant.rennes.actes.submit", act("U2026_002", { annexes: [{ upload: id }] }))).status).toBe(409);
    const acknowledged = (await waitForStatus("rennes", submitted.body.id, "acknowledged")) as ActView & { archive: string };

    const objects = new Objm(client);
    const uploaded = await (await objects.open(`ACTES_${run.toUpperCase()}_FILES`)).getBlob(`rennes/uploads/${id}`);
    expect(createHash("sha256").update(uploaded!).digest("hex")).toBe(sha256);
    const archive = await (await objects.open("PREFECTURE_ARCHIVES")).getBlob(`rennes/${acknowledged.archive}`);
    const dir = mkdtempSync(join(tmpdir(), "actes-large-"));
    writeFileSync(join(dir, "received.tar.gz"), archive!);
    const names = execFileSync("tar", ["-tzf", "received.tar.gz"], { cwd: dir, encoding: "utf8" }).trim().split("\n");
    const annexName = names.find((n) => n.startsWith("99_AU-"))!;
    expect(annexName).toMatch(/^99_AU-035-213502388-20261120-U2026_001-DE-1-1_2\.pdf$/);
    execFileSync("tar", ["-xzf", "received.tar.gz", annexName], { cwd: dir });
    expect(createHash("sha256").update(readFileSync(join(dir, annexName))).digest("hex")).toBe(sha256);
  });

  it("when an upload is not the file announced, then finishing it is refused, its chunks are discarded and it is forgotten", async () => {
    const content = Buffer.from("%PDF-1.7\n% not what was announced\n%%EOF\n");
    const { body } = await call<{ id: string }>("tenant.rennes.actes.uploads.start", { fileName: "x.pdf", mimeType: "application/pdf", size: content.length, sha256: "0".repeat(64) });
    expect((await call("tenant.rennes.actes.uploads.chunk", { id: body.id, index: 0, contentBase64: content.toString("base64") })).status).toBe(200);
    const finished = await call<{ message: string }>("tenant.rennes.actes.uploads.finish", { id: body.id });
    expect(finished.status).toBe(400);
    expect(finished.body.message).toContain("is not the file announced");
    expect((await call("tenant.rennes.actes.uploads.get", { id: body.id })).status).toBe(404);
    // More than announced is refused too.
    const small = await call<{ id: string }>("tenant.rennes.actes.uploads.start", { fileName: "y.pdf", mimeType: "application/pdf", size: 4, sha256: "0".repeat(64) });
    expect((await call("tenant.rennes.actes.uploads.chunk", { id: small.body.id, index: 0, contentBase64: content.toString("base64") })).status).toBe(400);
  });

  it("when a file is over the size limit, then it is refused with 413", async () => {
    const big = Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.alloc(70_000, 32)]).toString("base64");
    const answer = await call("tenant.rennes.actes.submit", act("D2026_BIG", { document: { fileName: "big.pdf", mimeType: "application/pdf", contentBase64: big } }));
    expect(answer.status).toBe(413);
  });

  it("when the same internal number is submitted twice, then the second is refused with 409", async () => {
    expect((await call("tenant.rennes.actes.submit", act("D2026_002"))).status).toBe(200);
    expect((await call("tenant.rennes.actes.submit", act("D2026_002"))).status).toBe(409);
  });

  it("when a collectivity is not enabled on the service, then its submissions are refused with 403", async () => {
    expect((await call("tenant.quimper.actes.submit", act("D2026_001"))).status).toBe(403);
  });

  it("when Brest asks for Rennes's act, then it is not found: each collectivity sees only its own acts", async () => {
    const rennesActs = (await call<ActView[]>("tenant.rennes.actes.list", {})).body;
    expect(rennesActs.length).toBeGreaterThan(0);
    expect((await call("tenant.brest.actes.get", { id: rennesActs[0]!.id })).status).toBe(404);
    expect((await call<ActView[]>("tenant.brest.actes.list", {})).body).toEqual([]);
  });

  it("when the prefecture cannot process the envelope, then it answers with an AnomalieEnveloppe and the act is refused with its nature and detail", async () => {
    const submitted = await call<ActView>("tenant.faux.actes.submit", act("D2026_001"));
    const refused = await waitForStatus("faux", submitted.body.id, "refused");
    expect(refused.reason).toBe("anomalie d'enveloppe 003 : SIREN 123456789 invalide : émetteur inconnu de la préfecture");
    expect(refused.exchanges.map((e) => e.message)).toEqual(["Acte", "AnomalieEnveloppe"]);
  });

  it("when the prefecture sends a courrier simple, then its XML and its PDF letter are kept with the act; a cancellation goes as an Annulation and is confirmed by an ARAnnulation", async () => {
    const id = (await call<ActView>("tenant.rennes.actes.submit", act("D2026_003"))).body.id;
    await waitForStatus("rennes", id, "acknowledged");
    await call("prefecture.actes.letter", { actId: id, kind: "CourrierSimple", text: "Merci de préciser la date de la séance." });
    await call("prefecture.actes.letter", { actId: id, kind: "CourrierSimple", text: "Et de joindre le procès-verbal." });
    const withLetter = await eventually("both courriers to arrive", async () => {
      const { body } = await call<ActView>("tenant.rennes.actes.get", { id });
      return body.exchanges.filter((e) => e.message === "CourrierSimple").length === 2 ? body : undefined;
    });
    // Each in a prefecture envelope of its own, numbered in the day: two letters never share a name.
    const envelopes = withLetter.exchanges.filter((e) => e.direction === "received").map((e) => (e as { envelope: string }).envelope);
    expect(envelopes.every((e) => /^TACT--213502388--[0-9]{8}-[0-9]+\.xml$/.test(e))).toBe(true);
    expect(new Set(envelopes).size).toBe(envelopes.length);
    const letter = withLetter.exchanges.find((e) => e.message === "CourrierSimple")!;
    expect(letter.file).toBe("035-213502388-20261120-D2026_003-DE-2-1_0.xml");
    const letters = (await call<{ kind: string; documents: string[]; s2lowStatus: number }[]>("tenant.rennes.actes.letters", { id })).body;
    expect(letters.map((l) => [l.kind, l.documents, l.s2lowStatus])).toEqual([
      ["CourrierSimple", ["99_CO-035-213502388-20261120-D2026_003-DE-2-1_1.pdf"], 21],
      ["CourrierSimple", ["99_CO-035-213502388-20261120-D2026_003-DE-2-1_1.pdf"], 21],
    ]);
    const mongo = await new MongoClient(platform.env.MONGODB_URI).connect();
    try {
      const folder = letter.envelope.replace(/\.xml$/, "");
      const kept = await mongo.db(`actes_${run}`).collection("documents").findOne({ _id: `${id}/exchanges/${folder}/99_CO-035-213502388-20261120-D2026_003-DE-2-1_1.pdf` as never });
      expect(Buffer.from(kept!.content.buffer).subarray(0, 5).toString()).toBe("%PDF-");
    } finally {
      await mongo.close();
    }
    expect((await call<ActView>("tenant.rennes.actes.cancel", { id })).body.status).toBe("cancellationAsked");
    const cancelled = await waitForStatus("rennes", id, "cancelled");
    expect(cancelled.exchanges.map((e) => `${e.direction} ${e.message}`)).toEqual(["sent Acte", "received ARActe", "received CourrierSimple", "received CourrierSimple", "sent Annulation", "received ARAnnulation"]);
    expect(cancelled.exchanges.at(-2)!.file).toBe("035-213502388-20261120-D2026_003-DE-6-1_0.xml");
  });

  it("when the prefecture asks for further documents, then Rennes acknowledges, sends them, and the prefecture acknowledges them, each step with its S²LOW status; steps out of order are refused", async () => {
    await call("prefecture.actes.script", { collectivity: "rennes", letters: [{ kind: "DemandePieceComplementaire", text: "Le procès-verbal de la séance du 20 novembre" }] });
    const id = (await call<ActView>("tenant.rennes.actes.submit", act("D2026_040"))).body.id;
    await waitForStatus("rennes", id, "acknowledged");
    type LetterView = { id: string; kind: string; text?: string; status: string; s2lowStatus: number; history: { status: string }[] };
    const letterIn = async (status: string) =>
      eventually(`the request for documents to be ${status}`, async () => {
        const letter = (await call<LetterView[]>("tenant.rennes.actes.letters", { id })).body.find((l) => l.kind === "DemandePieceComplementaire");
        return letter?.status === status ? letter : undefined;
      });
    const received = await letterIn("received");
    expect(received).toMatchObject({ text: "Le procès-verbal de la séance du 20 novembre", s2lowStatus: 7 });
    const answer = (kind: string, documents: unknown[] = [], token?: string) => call<LetterView & { error?: string }>("tenant.rennes.actes.letters.answer", { id, letter: received.id, answer: kind, documents }, token);
    const pv = [{ fileName: "pv.pdf", contentBase64: pdf("proces-verbal") }, { fileName: "liste.pdf", contentBase64: pdf("emargement") }];
    expect((await answer("PieceComplementaire", pv)).status).toBe(409);
    expect((await answer("ARLettreObservations")).status).toBe(409);
    const brest = await identity.tokenFor("agent@brest.example", { brest: ["agent"] });
    expect((await answer("ARDemandePieceComplementaire", [], brest)).status).toBe(403);
    expect((await answer("ARDemandePieceComplementaire")).body).toMatchObject({ status: "acknowledgementSent", s2lowStatus: 8 });
    expect((await answer("PieceComplementaire", [{ fileName: "x.pdf", contentBase64: Buffer.from("MZ").toString("base64") }])).status).toBe(400);
    expect((await answer("PieceComplementaire", pv)).body).toMatchObject({ status: "documentSent", s2lowStatus: 9 });
    const done = await letterIn("documentAcknowledged");
    expect(done.s2lowStatus).toBe(11);
    expect(done.history.map((h) => h.status)).toEqual(["received", "acknowledgementSent", "documentSent", "documentAcknowledged"]);
    const exchanges = (await call<ActView>("tenant.rennes.actes.get", { id })).body.exchanges.map((e) => `${e.direction} ${e.message}`);
    expect(exchanges).toEqual([
      "sent Acte",
      "received ARActe",
      "received DemandePieceComplementaire",
      "sent ARDemandePieceComplementaire",
      "sent PieceComplementaire",
      "received ARPieceComplementaire",
    ]);
  });

  it("when the prefecture sends observations, then Rennes acknowledges and rejects them; a referral to the court is received without acknowledgement and cannot be answered", async () => {
    const id = (await call<ActView>("tenant.rennes.actes.submit", act("D2026_041"))).body.id;
    await waitForStatus("rennes", id, "acknowledged");
    await call("prefecture.actes.letter", { actId: id, kind: "LettreObservations", text: "Délibération prise hors de la compétence du conseil" });
    await call("prefecture.actes.letter", { actId: id, kind: "DefereTA", text: "Incompétence" });
    type LetterView = { id: string; kind: string; status: string; s2lowStatus: number };
    const letters = await eventually("both letters", async () => {
      const { body } = await call<LetterView[]>("tenant.rennes.actes.letters", { id });
      return body.length === 2 ? body : undefined;
    });
    const observations = letters.find((l) => l.kind === "LettreObservations")!;
    const referral = letters.find((l) => l.kind === "DefereTA")!;
    expect(referral).toMatchObject({ status: "receivedNoAcknowledgement", s2lowStatus: 21 });
    expect((await call("tenant.rennes.actes.letters.answer", { id, letter: referral.id, answer: "ReponseCourrierSimple", documents: [{ fileName: "r.pdf", contentBase64: pdf("r") }] })).status).toBe(409);
    await call("tenant.rennes.actes.letters.answer", { id, letter: observations.id, answer: "ARLettreObservations" });
    const rejected = await call<LetterView>("tenant.rennes.actes.letters.answer", { id, letter: observations.id, answer: "RejetLettreObservations", documents: [{ fileName: "rejet.pdf", contentBase64: pdf("rejet") }] });
    expect(rejected.body.status).toBe("documentSent");
    await eventually("the prefecture to acknowledge the rejection", async () => {
      const { body } = await call<LetterView[]>("tenant.rennes.actes.letters", { id });
      return body.find((l) => l.kind === "LettreObservations")?.status === "documentAcknowledged" ? body : undefined;
    });
    expect((await call("tenant.brest.actes.letters", { id })).status).toBe(404);
  });

  it("when people of the collectivity act on an act, then an agent submits and reads, only its author or an administrator asks its cancellation, and other collectivities' people are refused", async () => {
    const author = await identity.tokenFor("redacteur@rennes.example", { rennes: ["agent"] });
    const colleague = await identity.tokenFor("collegue@rennes.example", { rennes: ["agent"] });
    const elu = await identity.tokenFor("maire@rennes.example", { rennes: ["elu"] });
    const administrator = await identity.tokenFor("dsi@rennes.example", { rennes: ["administrateur"] });
    const brest = await identity.tokenFor("agent@brest.example", { brest: ["agent", "administrateur"] });
    const first = await call<ActView & { author: string }>("tenant.rennes.actes.submit", act("D2026_010"), author);
    expect(first.body.author).toBe("redacteur@rennes.example");
    const second = (await call<ActView>("tenant.rennes.actes.submit", act("D2026_011"), author)).body;
    await waitForStatus("rennes", first.body.id, "acknowledged");
    await waitForStatus("rennes", second.id, "acknowledged");
    const table: [string, string, unknown, string | undefined, number][] = [
      ["an elected member reads acts", "tenant.rennes.actes.list", {}, elu, 200],
      ["an elected member does not submit them", "tenant.rennes.actes.submit", act("D2026_012"), elu, 403],
      ["a colleague may not cancel another's act", "tenant.rennes.actes.cancel", { id: first.body.id }, colleague, 403],
      ["another collectivity's agent is refused on Rennes's subjects", "tenant.rennes.actes.get", { id: first.body.id }, brest, 403],
      ["another collectivity's administrator may not cancel it", "tenant.rennes.actes.cancel", { id: first.body.id }, brest, 403],
      ["nobody without a token", "tenant.rennes.actes.list", {}, "", 401],
      ["the author asks its cancellation", "tenant.rennes.actes.cancel", { id: first.body.id }, author, 200],
      ["an administrator asks another's cancellation", "tenant.rennes.actes.cancel", { id: second.id }, administrator, 200],
    ];
    const outcomes = [];
    for (const [why, subject, body, token] of table) {
      const reply = token === "" ? await client.request(subject, JSON.stringify(body), { timeout: 10_000 }) : undefined;
      outcomes.push([why, reply ? Number(reply.headers?.get("Nats-Service-Error-Code") ?? 200) : (await call(subject, body, token)).status]);
    }
    expect(outcomes).toEqual(table.map(([why, , , , expected]) => [why, expected]));
  });

  it("when /metrics is scraped, then acts submitted, acknowledged and refused are counted per collectivity", async () => {
    const text = await (await fetch(`${actes.internalUrl}/metrics`)).text();
    expect(text).toMatch(/^mutualis_actes_submitted_total\{collectivity="rennes",service="actes"\} [1-9]/m);
    expect(text).toMatch(/^mutualis_actes_acknowledged_total\{collectivity="rennes",service="actes"\} [1-9]/m);
    expect(text).toMatch(/^mutualis_actes_refused_total\{collectivity="faux",service="actes"\} 1$/m);
  });

  it("when the prefecture puts a new classification in force, then an act built on the old one is acknowledged but flagged, the collectivity's classification is asked for again, and the new matières are accepted", async () => {
    const before = (await call<{ date: string; matieres: { code: string }[] }>("tenant.rennes.actes.classification", {})).body;
    expect(before.date).toBe("2026-01-01");
    expect(before.matieres.map((m) => m.code)).toContain("7.10");
    expect((await call<{ details: string[] }>("tenant.rennes.actes.submit", act("D2026_031", { classification: "7.1.2" }))).body.details).toEqual([
      "classification: 7.1.2 is not a matière of the classification of 2026-01-01",
    ]);
    await call("prefecture.actes.classification.publish", { date: "2026-11-29", matieres: [{ code: "7.1.2", label: "Décision modificative" }] });
    const old = (await call<ActView>("tenant.rennes.actes.submit", act("D2026_030"))).body;
    const flagged = (await waitForStatus("rennes", old.id, "acknowledged")) as ActView & { classificationVersion: string; classificationOutdated?: boolean };
    expect(flagged.classificationVersion).toBe("2026-01-01");
    expect(flagged.classificationOutdated).toBe(true);
    expect(flagged.exchanges.at(-1)!.detail).toContain("classification en vigueur du 2026-11-29 (l'acte est fondé sur celle du 2026-01-01, périmée)");
    await eventually("Rennes's classification to be the new one", async () => {
      const { body } = await call<{ date: string }>("tenant.rennes.actes.classification", {});
      return body.date === "2026-11-29" ? body : undefined;
    });
    const current = (await call<ActView>("tenant.rennes.actes.submit", act("D2026_031", { classification: "7.1.2" }))).body;
    const acknowledged = (await waitForStatus("rennes", current.id, "acknowledged")) as ActView & { classificationVersion: string; classificationOutdated?: boolean };
    expect(acknowledged.classificationVersion).toBe("2026-11-29");
    expect(acknowledged.classificationOutdated).toBeUndefined();
  });

  it("when the prefecture answers at once, before the transmission's reply is recorded, then every act still ends acknowledged", async () => {
    await simulator.stop();
    simulator = await startSimulator(0);
    try {
      const agent = await agentOf("rennes");
      const ids = await Promise.all(Array.from({ length: 6 }, async (_, i) => (await call<ActView>("tenant.rennes.actes.submit", act(`R2026_00${i}`), agent)).body.id));
      for (const id of ids) expect((await waitForStatus("rennes", id, "acknowledged")).history.map((h) => h.status)).toEqual(["posted", "waitingForTransmission", "transmitted", "acknowledged"]);
    } finally {
      await simulator.stop();
      simulator = await startSimulator();
    }
  });

  it("when a collectivity's first acts arrive together, then its classification is asked for and kept once, and every act is taken", async () => {
    await call("platform.actes.tenants.enable", { collectivity: "quimper", siren: "212902324", departement: "029", displayName: "Quimper", authority: { departement: "029", arrondissement: 2, nature: "31" } });
    const agent = await agentOf("quimper");
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => call<ActView>("tenant.quimper.actes.submit", act(`Q2026_00${i}`), agent)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    for (const { body } of answers) await waitForStatus("quimper", body.id, "acknowledged");
  });

  it("when NATS and both services restart while an act is in flight, then it ends acknowledged exactly once", async () => {
    await simulator.stop();
    const id = (await call<ActView>("tenant.rennes.actes.submit", act("D2026_004"))).body.id;
    await waitForStatus("rennes", id, "waitingForTransmission");
    await actes.stop();
    await client.close();
    await restart(platform.config, "nats");
    client = await eventually("NATS to come back", async () =>
      connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator((await import("node:fs")).readFileSync(credsFile)) }),
    );
    actes = await startActes();
    simulator = await startSimulator();
    const acknowledged = await waitForStatus("rennes", id, "acknowledged");
    expect(acknowledged.history.filter((h) => h.status === "transmitted")).toHaveLength(1);
    expect(acknowledged.history.filter((h) => h.status === "acknowledged")).toHaveLength(1);
    const mongo = await new MongoClient(platform.env.MONGODB_URI).connect();
    try {
      expect(await mongo.db(`prefecture_${run}`).collection("transmissions").countDocuments({ _id: id as never })).toBe(1);
    } finally {
      await mongo.close();
    }
  });
});
