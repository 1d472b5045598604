import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentCode } from "@mutualis/identity";
import { parapheurService, parapheurSettings, signPurpose } from "@mutualis/parapheur";
import { letterPdf } from "@mutualis/prefecture-simulator";
import { loadSettings, RunningService, type Role } from "@mutualis/service-kit";
import { bearer, startTestIdentity, type TestIdentity } from "../support/identity.ts";
import { serviceSettings, testServicesAccount } from "../support/services.ts";

const run = randomBytes(3).toString("hex");
let client: NatsConnection;
let identity: TestIdentity;
let parapheur: RunningService;
let dispose: () => Promise<void>;
/** The parapheur's clock runs ahead by this much: lateness without waiting days. */
let clockAheadMs = 0;
const work = mkdtempSync(join(tmpdir(), "parapheur-it-"));

const people: Record<string, Role[]> = {
  "admin@rennes.example": ["administrateur"],
  "secretariat@rennes.example": ["secretaire"],
  "dgs@rennes.example": ["agent"],
  "maire@rennes.example": ["elu", "signataire"],
  "adjoint@rennes.example": ["elu", "signataire"],
  "vp-a@rennes.example": ["elu"],
  "vp-b@rennes.example": ["elu"],
  "vp-c@rennes.example": ["elu"],
  "dga@rennes.example": ["signataire"],
  "curieux@rennes.example": ["agent"],
};

interface Reply<T> {
  status: number;
  body: T;
  message: string;
}

async function call<T = Record<string, unknown>>(subject: string, body: unknown, as?: string): Promise<Reply<T>> {
  const [root] = subject.split(".");
  // A person belongs to the collectivity of their address's domain, whatever subject they call.
  const token = root === "tenant" && as ? await identity.tokenFor(as, { [as.split("@")[1]!.split(".")[0]!]: people[as] ?? ["agent"] }) : undefined;
  const reply = await client.request(subject, JSON.stringify(body), { timeout: 20_000, ...(token ? bearer(token) : {}) });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  return { status: code ? Number(code) : 200, body: reply.json<T>(), message: reply.headers?.get("Nats-Service-Error") ?? "" };
}

/** The person's second factor: enrolled the first time, then a code of a time step not used yet. */
const secrets = new Map<string, { secret: string; step: number }>();
async function confirmation(as: string, folder: string): Promise<string> {
  let known = secrets.get(as);
  if (!known) {
    const { body } = await call<{ secret: string }>("tenant.rennes.identity.second-factor.enrol", {}, as);
    known = { secret: body.secret, step: Math.floor(Date.now() / 30_000) - 1 };
    secrets.set(as, known);
  }
  // The application's code of the next step not used yet (the identity accepts one step ahead).
  known.step = Math.max(known.step + 1, Math.floor(Date.now() / 30_000));
  // Further ahead than one step, the code would be refused: wait for the clock.
  const wait = (known.step - 1) * 30_000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 100));
  const code = await currentCode(known.secret, known.step * 30);
  const reply = await call<{ confirmation: string }>("tenant.rennes.identity.second-factor.confirm", { code, purpose: `parapheur.sign:${folder}` }, as);
  expect(reply.status, reply.message).toBe(200);
  return reply.body.confirmation;
}

const sign = async (as: string, id: string) => call<Folder>("tenant.rennes.parapheur.folders.sign", { id, confirmation: await confirmation(as, id) }, as);

interface Folder {
  id: string;
  state: string;
  steps: { type: string; desks: string[]; state: string; actions: { kind: string; desk?: string; by: string; delegate?: string; reason?: string }[] }[];
  documents: { index: number; sha256: string; signedSha256?: string; signatures: { by: string; format: string; kind: string; certificate: string }[] }[];
  history: { action: string; by: string; desk?: string; delegate?: string; reason?: string; state: string; certificate?: string }[];
  rejection?: { reason: string; desk: string };
  retrievable: boolean;
}

const deliberation = () => letterPdf(`Délibération ${run}`, ["Le conseil municipal approuve le budget primitif 2027.", "Adopté à l'unanimité."]);
const pes = Buffer.from(
  '<?xml version="1.0" encoding="ISO-8859-1"?>\n<PES_Aller><EnTetePES><LibelleColBud V="Ville de Rennes"/></EnTetePES>' +
    '<PES_DepenseAller><Bordereau Id="BORD1"><BlocBordereau><NumBord V="12"/><MtBordHT V="1500.00"/></BlocBordereau><Piece><BlocPiece><ObjPiece V="Fournitures d\'écoles"/></BlocPiece></Piece></Bordereau></PES_DepenseAller></PES_Aller>\n',
  "latin1",
);

function create(type: string, subtype: string, name: string, document: { name: string; mimeType: string; content: Buffer }, extra: Record<string, unknown> = {}) {
  return call<Folder>(
    "tenant.rennes.parapheur.folders.create",
    { type, subtype, name, desk: "secretariat", documents: [{ name: document.name, mimeType: document.mimeType, contentBase64: document.content.toString("base64") }], start: true, ...extra },
    "secretariat@rennes.example",
  );
}

const pdf = () => ({ name: "deliberation.pdf", mimeType: "application/pdf", content: deliberation() });
const sh = (cwd: string, command: string, ...args: string[]) => execFileSync(command, args, { cwd, encoding: "utf8", stdio: "pipe" });

describe("the parapheur: circuits, real signatures, delegations, quorum, revocation, evidence", () => {
  beforeAll(async () => {
    const account = await testServicesAccount("platform-services-parapheur-test");
    ({ client, dispose } = account);
    identity = await startTestIdentity(account.credsFile, `parapheur_${run}_identity`, []);
    const keyFile = join(work, "master.key");
    writeFileSync(keyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
    parapheur = await new RunningService(
      parapheurService({ now: () => new Date(Date.now() + clockAheadMs) }),
      loadSettings(parapheurSettings, {
        ...serviceSettings(account.credsFile),
        ...identity.verifierSettings,
        SERVICE_NAME: "parapheur",
        MONGODB_DATABASE: `parapheur_${run}`,
        PARAPHEUR_MASTER_KEY_FILE: keyFile,
        PARAPHEUR_FILES_MAX_BYTES: String(64 * 2 ** 20),
      }),
    ).start();
    for (const c of [
      { collectivity: "rennes", siren: "213502388", departement: "035", displayName: "Ville de Rennes" },
      { collectivity: "brest", siren: "212900195", departement: "029", displayName: "Ville de Brest" },
    ]) {
      expect((await call("platform.parapheur.tenants.enable", c)).status).toBe(200);
    }
    const admin = "admin@rennes.example";
    const hour = 3_600_000;
    const desks = [
      { id: "secretariat", name: "Secrétariat général", owners: ["secretariat@rennes.example"] },
      { id: "dgs", name: "Direction générale des services", owners: ["dgs@rennes.example"] },
      { id: "adjoint", name: "Premier adjoint", owners: ["adjoint@rennes.example"] },
      { id: "maire", name: "Maire", owners: ["maire@rennes.example"], delegations: [{ to: "adjoint", from: new Date(Date.now() - hour), until: new Date(Date.now() + 7 * 24 * hour) }] },
      { id: "dga", name: "Direction générale adjointe", owners: ["dga@rennes.example"] },
      { id: "vp-a", name: "Vice-présidente aux finances", owners: ["vp-a@rennes.example"] },
      { id: "vp-b", name: "Vice-président à la culture", owners: ["vp-b@rennes.example"] },
      { id: "vp-c", name: "Vice-présidente aux sports", owners: ["vp-c@rennes.example"] },
      // A delegation that ended yesterday.
      { id: "president", name: "Président de commission", owners: ["admin@rennes.example"], delegations: [{ to: "adjoint", from: new Date(Date.now() - 72 * hour), until: new Date(Date.now() - 24 * hour) }] },
    ];
    for (const desk of desks) {
      const saved = await call("tenant.rennes.parapheur.desks.save", { desk }, admin);
      expect(saved.status, saved.message).toBe(200);
    }
    const types = [
      {
        id: "deliberation",
        name: "Délibération",
        protocol: "ACTES",
        signatureFormat: "PADES",
        subtypes: [
          {
            id: "conseil",
            name: "Conseil municipal",
            circuit: [{ type: "VISA", desks: ["dgs"] }, { type: "SIGNATURE", desks: ["vp-a", "vp-b", "vp-c"], quorum: 2 }, { type: "SIGNATURE", desks: ["maire"] }, { type: "SEAL" }],
          },
        ],
      },
      { id: "arrete", name: "Arrêté", protocol: "NONE", signatureFormat: "PKCS7", subtypes: [{ id: "individuel", name: "Arrêté individuel", circuit: [{ type: "SIGNATURE", desks: ["maire"] }] }, { id: "commission", name: "Commission", circuit: [{ type: "SIGNATURE", desks: ["president"] }] }, { id: "note", name: "Note de service", circuit: [{ type: "SIGNATURE", desks: ["dga"] }] }] },
      { id: "pes", name: "Flux comptable", protocol: "HELIOS", signatureFormat: "PES_V2", subtypes: [{ id: "depenses", name: "Bordereau de dépenses", circuit: [{ type: "VISA", desks: ["dgs"] }, { type: "SIGNATURE", desks: ["maire"] }] }] },
    ];
    for (const type of types) {
      const saved = await call("tenant.rennes.parapheur.types.save", { type }, admin);
      expect(saved.status, saved.message).toBe(200);
    }
    for (const [email, commonName] of [
      ["maire@rennes.example", "Nathalie Appéré"],
      ["adjoint@rennes.example", "Premier Adjoint"],
      ["dga@rennes.example", "Directrice Générale Adjointe"],
      ["vp-a@rennes.example", "Vice-Présidente A"],
      ["vp-b@rennes.example", "Vice-Président B"],
      ["vp-c@rennes.example", "Vice-Présidente C"],
    ]) {
      const issued = await call("tenant.rennes.parapheur.certificates.issue", { email, commonName }, admin);
      expect(issued.status, issued.message).toBe(200);
    }
  });

  afterAll(async () => {
    await parapheur?.stop();
    await identity?.stop();
    await client?.close();
    await dispose?.();
  });

  it("when a délibération goes through a visa, a quorum of two of three, a delegated signature and the seal, then it is finished and its evidence bundle checks with sha256sum, openssl and pdfsig", async () => {
    const created = await create("deliberation", "conseil", `Budget primitif 2027 ${run}`, pdf());
    expect(created.status, created.message).toBe(200);
    const id = created.body.id;
    expect(created.body.state).toBe("PENDING");
    expect(created.body.retrievable).toBe(true);

    // The DGS's desk lists it as waiting for it; the mayor's not yet.
    const waiting = await call<{ folders: { id: string; state: string }[] }>("tenant.rennes.parapheur.folders.list", { view: "waiting" }, "dgs@rennes.example");
    expect(waiting.body.folders.find((f) => f.id === id)?.state).toBe("CURRENT");
    expect((await call<{ folders: { id: string }[] }>("tenant.rennes.parapheur.folders.list", {}, "maire@rennes.example")).body.folders.some((f) => f.id === id)).toBe(false);
    // A desk the current step does not name is refused.
    expect((await call("tenant.rennes.parapheur.folders.visa", { id }, "maire@rennes.example")).status).toBe(403);

    expect((await call<Folder>("tenant.rennes.parapheur.folders.visa", { id, comment: "Vu" }, "dgs@rennes.example")).body.steps[0]!.state).toBe("VALIDATED");
    const first = await sign("vp-a@rennes.example", id);
    expect(first.status, first.message).toBe(200);
    expect(first.body.steps[1]!.state).toBe("CURRENT");
    const second = await sign("vp-c@rennes.example", id);
    expect(second.body.steps[1]!.state).toBe("VALIDATED");
    // The third vice-president is no longer waited for.
    expect((await call("tenant.rennes.parapheur.folders.visa", { id }, "vp-b@rennes.example")).status).toBe(403);

    // The mayor's desk delegates to the first deputy: it waits for him as DELEGATED, and he signs for the mayor.
    const delegated = await call<{ folders: { id: string; state: string }[] }>("tenant.rennes.parapheur.folders.list", { view: "waiting" }, "adjoint@rennes.example");
    expect(delegated.body.folders.find((f) => f.id === id)?.state).toBe("DELEGATED");
    const signed = await sign("adjoint@rennes.example", id);
    expect(signed.status, signed.message).toBe(200);
    expect(signed.body.state).toBe("FINISHED");
    expect(signed.body.steps.map((s) => s.state)).toEqual(["VALIDATED", "VALIDATED", "VALIDATED", "VALIDATED"]);
    expect(signed.body.steps[2]!.actions[0]).toMatchObject({ kind: "signature", desk: "maire", by: "adjoint@rennes.example", delegate: "adjoint" });
    expect(signed.body.history.map((h) => h.action)).toEqual(["created", "started", "visa", "signature", "signature", "signature", "seal"]);
    expect(signed.body.documents[0]!.signatures.map((s) => s.kind)).toEqual(["signature", "signature", "signature", "seal"]);

    const evidence = await call<{ fileName: string; contentBase64: string }>("tenant.rennes.parapheur.folders.evidence", { id }, "secretariat@rennes.example");
    expect(evidence.status, evidence.message).toBe(200);
    const dir = join(work, "preuve");
    mkdirSync(dir);
    writeFileSync(join(dir, evidence.body.fileName), Buffer.from(evidence.body.contentBase64, "base64"));
    sh(dir, "tar", "xzf", evidence.body.fileName);
    expect(sh(dir, "sha256sum", "-c", "empreintes.sha256")).not.toMatch(/FAILED/);
    expect(sh(dir, "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "empreintes.sha256.p7s", "-content", "empreintes.sha256", "-CAfile", "autorite.pem", "-purpose", "any", "-out", "/dev/null")).toBe("");
    const signers = readFileSync(join(dir, "empreintes.sha256"), "utf8").match(/signataire-[0-9a-f]+\.pem/g)!;
    expect(signers).toHaveLength(3);
    expect(sh(dir, "openssl", "verify", "-crl_check", "-CAfile", "autorite.pem", "-CRLfile", "revocations.crl.pem", "cachet.pem", ...signers)).toMatch(/^(\S+: OK\n){4}$/);
    const report = sh(dir, "pdfsig", "document-1-signe.pdf");
    expect(report.match(/Signature Validation: Signature is Valid\./g)).toHaveLength(4);
    for (const name of ["Vice-Présidente A", "Vice-Présidente C", "Premier Adjoint", "Cachet de Ville de Rennes"]) expect(report).toContain(name);
    expect(readFileSync(join(dir, "LISEZMOI.txt"), "utf8")).toContain("sha256sum -c empreintes.sha256");
    const history = JSON.parse(readFileSync(join(dir, "historique.json"), "utf8")) as Folder;
    expect(history.history.find((h) => h.action === "signature" && h.delegate)).toMatchObject({ by: "adjoint@rennes.example", desk: "maire" });

    // A changed byte of the signed act: pdfsig sees it, and so does the list of hashes.
    const tampered = readFileSync(join(dir, "document-1-signe.pdf"));
    tampered[tampered.indexOf("budget", 0, "latin1")] = "B".charCodeAt(0);
    writeFileSync(join(dir, "document-1-signe.pdf"), tampered);
    expect(sh(dir, "pdfsig", "document-1-signe.pdf")).toMatch(/Digest Mismatch|Signature is Invalid/);
    expect(() => sh(dir, "sha256sum", "-c", "--quiet", "empreintes.sha256")).toThrow();
  });

  it("when two of the three vice-presidents reject, then the quorum is missed and the folder is rejected with the reason; one rejection alone leaves it pending", async () => {
    const { body } = await create("deliberation", "conseil", `Subvention ${run}`, pdf());
    await call("tenant.rennes.parapheur.folders.visa", { id: body.id }, "dgs@rennes.example");
    const one = await call<Folder>("tenant.rennes.parapheur.folders.reject", { id: body.id, reason: "Montant à revoir" }, "vp-b@rennes.example");
    expect(one.body.state).toBe("PENDING");
    expect((await call("tenant.rennes.parapheur.folders.reject", { id: body.id, reason: " " }, "vp-a@rennes.example")).status).toBe(400);
    const two = await call<Folder>("tenant.rennes.parapheur.folders.reject", { id: body.id, reason: "Hors budget" }, "vp-a@rennes.example");
    expect(two.body.state).toBe("REJECTED");
    expect(two.body.rejection).toMatchObject({ reason: "Hors budget", desk: "vp-a" });
    expect(two.body.steps[1]!.state).toBe("REJECTED");
    expect((await sign("vp-c@rennes.example", body.id)).status).toBe(409);
    expect((await call("tenant.rennes.parapheur.folders.evidence", { id: body.id }, "secretariat@rennes.example")).status).toBe(409);
  });

  it("when an arrêté is signed in CAdES, then openssl cms verifies the .p7s against the collectivity's authority, and refuses a changed act", async () => {
    const act = { name: "arrete.pdf", mimeType: "application/pdf", content: letterPdf("Arrêté individuel", [`Nomination ${run}`]) };
    const { body } = await create("arrete", "individuel", `Nomination ${run}`, act);
    const signed = await sign("maire@rennes.example", body.id);
    expect(signed.body.state).toBe("FINISHED");
    expect(signed.body.documents[0]!.signatures[0]!.format).toBe("PKCS7");
    const p7s = await call<{ contentBase64: string }>("tenant.rennes.parapheur.folders.document", { id: body.id, index: 0, signature: 1 }, "maire@rennes.example");
    const authority = await call<{ certificatePem: string }>("tenant.rennes.parapheur.authority", {}, "maire@rennes.example");
    const dir = mkdtempSync(join(work, "cades-"));
    writeFileSync(join(dir, "arrete.pdf"), act.content);
    writeFileSync(join(dir, "arrete.p7s"), Buffer.from(p7s.body.contentBase64, "base64"));
    writeFileSync(join(dir, "ca.pem"), authority.body.certificatePem);
    const verify = () => sh(dir, "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "arrete.p7s", "-content", "arrete.pdf", "-CAfile", "ca.pem", "-purpose", "any", "-out", "/dev/null");
    expect(verify()).toBe("");
    writeFileSync(join(dir, "arrete.pdf"), Buffer.concat([act.content, Buffer.from("%")]));
    expect(verify).toThrow();
  });

  it("when a PES bordereau is signed, then xmlsec1 verifies its XAdES signature, and refuses a changed amount; a PES circuit with two signatures is refused", async () => {
    const { body } = await create("pes", "depenses", `Bordereau 12 ${run}`, { name: "pes.xml", mimeType: "application/xml", content: pes });
    await call("tenant.rennes.parapheur.folders.visa", { id: body.id }, "dgs@rennes.example");
    const signed = await sign("maire@rennes.example", body.id);
    expect(signed.status, signed.message).toBe(200);
    const xml = await call<{ contentBase64: string }>("tenant.rennes.parapheur.folders.document", { id: body.id, index: 0, version: "signed" }, "maire@rennes.example");
    const authority = await call<{ certificatePem: string }>("tenant.rennes.parapheur.authority", {}, "maire@rennes.example");
    const dir = mkdtempSync(join(work, "xades-"));
    const content = Buffer.from(xml.body.contentBase64, "base64");
    writeFileSync(join(dir, "pes.xml"), content);
    writeFileSync(join(dir, "ca.pem"), authority.body.certificatePem);
    const verify = () => sh(dir, "xmlsec1", "--verify", "--trusted-pem", "ca.pem", "--id-attr:Id", "Bordereau", "pes.xml");
    expect(() => verify()).not.toThrow();
    writeFileSync(join(dir, "pes.xml"), Buffer.from(content.toString("latin1").replace("1500.00", "9500.00"), "latin1"));
    expect(verify).toThrow();

    const twice = await call(
      "tenant.rennes.parapheur.types.save",
      { type: { id: "pes2", name: "PES", protocol: "HELIOS", signatureFormat: "PES_V2", subtypes: [{ id: "x", name: "x", circuit: [{ type: "SIGNATURE", desks: ["maire"] }, { type: "SEAL" }] }] } },
      "admin@rennes.example",
    );
    expect(twice.status).toBe(400);
    expect(JSON.stringify(twice.body)).toContain("a PES is signed once");
  });

  it("when a signer's certificate is revoked, then they cannot sign, and openssl finds it revoked in the authority's list", async () => {
    const admin = "admin@rennes.example";
    const list = await call<{ certificates: { serial: string; email: string; certificatePem: string; revokedAt?: string }[] }>("tenant.rennes.parapheur.certificates.list", {}, admin);
    const certificate = list.body.certificates.find((c) => c.email === "vp-b@rennes.example")!;
    expect(JSON.stringify(list.body)).not.toMatch(/PRIVATE KEY|sealedKey/);
    expect((await call("tenant.rennes.parapheur.certificates.revoke", { serial: certificate.serial, reason: "Fin de mandat" }, "vp-b@rennes.example")).status).toBe(403);
    const revoked = await call<{ revokedAt: string }>("tenant.rennes.parapheur.certificates.revoke", { serial: certificate.serial, reason: "Fin de mandat" }, admin);
    expect(revoked.status, revoked.message).toBe(200);
    expect((await call("tenant.rennes.parapheur.certificates.revoke", { serial: certificate.serial, reason: "encore" }, admin)).status).toBe(409);

    const { body } = await create("deliberation", "conseil", `Revoked ${run}`, pdf());
    await call("tenant.rennes.parapheur.folders.visa", { id: body.id }, "dgs@rennes.example");
    const refused = await sign("vp-b@rennes.example", body.id);
    expect(refused.status).toBe(403);
    expect(refused.message).toMatch(/revoked/);
    const folder = await call<Folder>("tenant.rennes.parapheur.folders.get", { id: body.id }, "vp-b@rennes.example");
    expect(folder.body.steps[1]!.actions).toEqual([]);

    const authority = await call<{ certificatePem: string; revocationListPem: string }>("tenant.rennes.parapheur.authority", {}, admin);
    const dir = mkdtempSync(join(work, "crl-"));
    writeFileSync(join(dir, "ca.pem"), authority.body.certificatePem);
    writeFileSync(join(dir, "crl.pem"), authority.body.revocationListPem);
    writeFileSync(join(dir, "vp-b.pem"), certificate.certificatePem);
    expect(() => sh(dir, "openssl", "verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "vp-b.pem")).toThrow(/certificate revoked/);
  });

  it("when a signature comes without a good second factor — none, another folder's, one used already — then it is refused and nothing is signed", async () => {
    const { body } = await create("arrete", "note", `Second facteur ${run}`, { name: "a.pdf", mimeType: "application/pdf", content: deliberation() });
    const other = await create("arrete", "note", `Autre ${run}`, { name: "b.pdf", mimeType: "application/pdf", content: deliberation() });
    expect((await call("tenant.rennes.parapheur.folders.sign", { id: body.id, confirmation: "x".repeat(40) }, "dga@rennes.example")).status).toBe(403);
    const forOther = await confirmation("dga@rennes.example", other.body.id);
    const wrong = await call("tenant.rennes.parapheur.folders.sign", { id: body.id, confirmation: forOther }, "dga@rennes.example");
    expect(wrong.status).toBe(403);
    expect(wrong.message).toMatch(/another person or another operation/);
    const good = await confirmation("dga@rennes.example", body.id);
    expect((await call("tenant.rennes.parapheur.folders.sign", { id: body.id, confirmation: good }, "dga@rennes.example")).status).toBe(200);
    const again = await create("arrete", "note", `Rejoué ${run}`, { name: "c.pdf", mimeType: "application/pdf", content: deliberation() });
    const replayed = await call("tenant.rennes.parapheur.folders.sign", { id: again.body.id, confirmation: good }, "dga@rennes.example");
    expect(replayed.status).toBe(403);
    // A wrong code is refused by the identity service.
    expect((await call("tenant.rennes.identity.second-factor.confirm", { code: "000000", purpose: "parapheur.sign:x" }, "dga@rennes.example")).status).toBe(403);
  });

  it("when a signer signs several folders at once, then one confirmation of the second factor covers the list, and a folder not waiting for them says why", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create("arrete", "individuel", `Lot ${i} ${run}`, pdf())).body.id);
    const notTheirs = (await create("deliberation", "conseil", `Pas pour lui ${run}`, pdf())).body.id;
    const list = [...ids, notTheirs];
    const as = "adjoint@rennes.example";
    const purpose = signPurpose(list).slice("parapheur.sign:".length);
    const reply = await call<{ folders: { id: string; signed: boolean; state?: string; status?: number }[] }>("tenant.rennes.parapheur.folders.sign-batch", { ids: list, confirmation: await confirmation(as, purpose) }, as);
    expect(reply.status, reply.message).toBe(200);
    expect(reply.body.folders.map((f) => [f.signed, f.state ?? f.status])).toEqual([[true, "FINISHED"], [true, "FINISHED"], [true, "FINISHED"], [false, 403]]);
  });

  it("when a delegation is out of its dates, then the delegate neither sees the desk's folders nor acts on them", async () => {
    const { body } = await create("arrete", "commission", `Commission ${run}`, pdf());
    expect((await call("tenant.rennes.parapheur.folders.reject", { id: body.id, reason: "non" }, "adjoint@rennes.example")).status).toBe(404);
    const waiting = await call<{ folders: { id: string }[] }>("tenant.rennes.parapheur.folders.list", {}, "adjoint@rennes.example");
    expect(waiting.body.folders.some((f) => f.id === body.id)).toBe(false);
    // Its owner still acts, and the refusal of the delegate names the dates (the unit tests show the words).
    expect((await call<Folder>("tenant.rennes.parapheur.folders.reject", { id: body.id, reason: "Reporté" }, "admin@rennes.example")).body.state).toBe("REJECTED");
  });

  it("when a folder passes its due date, then it is LATE for its desk and in its state; an administrator passes the step over, audited; others may not", async () => {
    const today = new Date().toLocaleDateString("sv-SE", { timeZone: "Europe/Paris" });
    const { body } = await create("deliberation", "conseil", `En retard ${run}`, pdf(), { dueDate: today });
    expect(body.state).toBe("PENDING");
    expect((await create("deliberation", "conseil", "passé", pdf(), { dueDate: "2020-01-01" })).status).toBe(400);
    clockAheadMs = 2 * 86_400_000;
    try {
      const waiting = await call<{ folders: { id: string; state: string }[] }>("tenant.rennes.parapheur.folders.list", {}, "dgs@rennes.example");
      expect(waiting.body.folders.find((f) => f.id === body.id)?.state).toBe("LATE");
      expect((await call<Folder>("tenant.rennes.parapheur.folders.get", { id: body.id }, "dgs@rennes.example")).body.state).toBe("LATE");
    } finally {
      clockAheadMs = 0;
    }
    expect((await call("tenant.rennes.parapheur.folders.bypass", { id: body.id, reason: "DGS absent" }, "dgs@rennes.example")).status).toBe(403);
    const bypassed = await call<Folder>("tenant.rennes.parapheur.folders.bypass", { id: body.id, reason: "DGS absent" }, "admin@rennes.example");
    expect(bypassed.body.steps[0]).toMatchObject({ state: "BYPASSED", actions: [{ kind: "bypass", by: "admin@rennes.example", reason: "DGS absent" }] });
    expect(bypassed.body.history.at(-1)).toMatchObject({ action: "bypass", by: "admin@rennes.example", reason: "DGS absent" });
  });

  it("when the general manager asks the deputy manager's opinion, then the deputy visas first and the folder comes back; a vice-president hands her part to a colleague", async () => {
    const { body } = await create("deliberation", "conseil", `Avis ${run}`, pdf());
    const asked = await call<Folder>("tenant.rennes.parapheur.folders.second-opinion", { id: body.id, to: "dga", reason: "Avis juridique" }, "dgs@rennes.example");
    expect(asked.status, asked.message).toBe(200);
    expect(asked.body.steps.slice(0, 2).map((s) => s.state)).toEqual(["CURRENT", "UPCOMING"]);
    const forDga = await call<{ folders: { id: string }[] }>("tenant.rennes.parapheur.folders.list", {}, "dga@rennes.example");
    expect(forDga.body.folders.some((f) => f.id === body.id)).toBe(true);
    expect((await call("tenant.rennes.parapheur.folders.visa", { id: body.id }, "dgs@rennes.example")).status).toBe(403);
    await call("tenant.rennes.parapheur.folders.visa", { id: body.id, comment: "Rien à redire" }, "dga@rennes.example");
    const back = await call<Folder>("tenant.rennes.parapheur.folders.visa", { id: body.id }, "dgs@rennes.example");
    expect(back.status, back.message).toBe(200);
    const handed = await call<Folder>("tenant.rennes.parapheur.folders.transfer", { id: body.id, to: "adjoint", reason: "Absente" }, "vp-c@rennes.example");
    expect(handed.status, handed.message).toBe(200);
    expect(handed.body.steps[2]!.desks).toEqual(["vp-a", "vp-b", "adjoint"]);
    expect(handed.body.history.slice(-1)[0]).toMatchObject({ action: "transfer", desk: "vp-c", by: "vp-c@rennes.example" });
    expect((await call("tenant.rennes.parapheur.folders.reject", { id: body.id, reason: "non" }, "vp-c@rennes.example")).status).toBe(403);
  });

  it("when the emitter takes a folder back before anyone acted, then it is a draft again; once someone acted, it cannot be", async () => {
    const { body } = await create("deliberation", "conseil", `Repris ${run}`, pdf());
    const back = await call<Folder>("tenant.rennes.parapheur.folders.retrieve", { id: body.id }, "secretariat@rennes.example");
    expect(back.body.state).toBe("DRAFT");
    const again = await call<Folder>("tenant.rennes.parapheur.folders.start", { id: body.id }, "secretariat@rennes.example");
    expect(again.body.state).toBe("PENDING");
    await call("tenant.rennes.parapheur.folders.visa", { id: body.id }, "dgs@rennes.example");
    expect((await call("tenant.rennes.parapheur.folders.retrieve", { id: body.id }, "secretariat@rennes.example")).status).toBe(409);
  });

  it("when someone outside the folder's desks or collectivity asks for it, then it does not exist for them; bad input changes nothing", async () => {
    const { body } = await create("deliberation", "conseil", `Confidentiel ${run}`, pdf());
    expect((await call("tenant.rennes.parapheur.folders.get", { id: body.id }, "curieux@rennes.example")).status).toBe(404);
    expect((await call("tenant.rennes.parapheur.folders.get", { id: body.id }, "admin@rennes.example")).status).toBe(200);
    // An agent of Brest: refused on Rennes's subjects, and Rennes's folder is not Brest's.
    expect((await call("tenant.rennes.parapheur.folders.get", { id: body.id }, "agent@brest.example")).status).toBe(403);
    const brestAdmin = await identity.tokenFor("admin@brest.example", { brest: ["administrateur"] });
    const fromBrest = await client.request("tenant.brest.parapheur.folders.get", JSON.stringify({ id: body.id }), { timeout: 10_000, ...bearer(brestAdmin) });
    expect(fromBrest.headers?.get("Nats-Service-Error-Code")).toBe("404");
    const brestList = await client.request("tenant.brest.parapheur.folders.list", JSON.stringify({ view: "all" }), { timeout: 10_000, ...bearer(brestAdmin) });
    expect(brestList.json<{ folders: unknown[] }>().folders).toEqual([]);

    const unknownDesk = await call("tenant.rennes.parapheur.types.save", { type: { id: "x", name: "X", protocol: "NONE", signatureFormat: "PKCS7", subtypes: [{ id: "y", name: "Y", circuit: [{ type: "VISA", desks: ["nulle-part"] }] }] } }, "admin@rennes.example");
    expect(unknownDesk.status).toBe(400);
    expect(unknownDesk.message).toMatch(/nulle-part/);
    expect((await call("tenant.rennes.parapheur.desks.save", { desk: { id: "x", name: "X", owners: [] } }, "admin@rennes.example")).status).toBe(400);
    expect((await call("tenant.rennes.parapheur.desks.save", { desk: { id: "x", name: "X", owners: ["a@b.fr"] } }, "dgs@rennes.example")).status).toBe(403);
    const notPdf = await create("deliberation", "conseil", "pas un PDF", { name: "x.pdf", mimeType: "application/pdf", content: Buffer.from("bonjour") });
    expect(notPdf.status).toBe(400);
    expect((await call<{ types: { id: string }[] }>("tenant.rennes.parapheur.types.list", {}, "dgs@rennes.example")).body.types.map((t) => t.id)).toEqual(["arrete", "deliberation", "pes"]);
  });
});
