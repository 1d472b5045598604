/**
 * Benchmark: the parapheur's signatures and circuits, each against a floor measured in the same
 * run, on the same machine.
 *
 * - PAdES: a 2 MB PDF signed (an incremental update, the CMS over the whole file but the room
 *   for it) and written to disk, one at a time. Floor: the file's SHA-256 signed with Node's
 *   crypto (ECDSA P-256, the same key) and the same bytes written.
 * - circuit: with 1,000 folders waiting at the first step, folders go through a three-step
 *   circuit — the general manager's visa, the mayor's signature (PAdES, in lists of 50 confirmed
 *   once by the second factor), the collectivity's seal (PAdES, by the platform) — through the
 *   service, over NATS, with its tokens. Floor, per folder: the same writes done plainly — three
 *   updates of a document in the same database, two signatures of the document's digest, two
 *   files written to the same object store.
 *
 * The identity and the parapheur run in this process, on a platform of the bench's own
 * (.local/bench-parapheur, ports +9000). BENCH_PARAPHEUR_WAITING, BENCH_PARAPHEUR_FOLDERS and
 * BENCH_PARAPHEUR_SIGNATURES change the sizes.
 */
import { createHash, createPrivateKey, randomBytes, sign } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { currentCode } from "@mutualis/identity";
import { demoToken, down, platformEnv, type PlatformConfig } from "@mutualis/local-platform";
import { createAuthority, issueCertificate, padesSign, parapheurService, parapheurSettings, signPurpose } from "@mutualis/parapheur";
import { letterPdf } from "@mutualis/prefecture-simulator";
import { Database, loadSettings, ObjectFiles, RunningService } from "@mutualis/service-kit";
import { benchIdentity, benchServicesAccount, freshBenchPlatform, pool, saveResult } from "./support.ts";

const waiting = Number(process.env.BENCH_PARAPHEUR_WAITING ?? 1000);
const through = Number(process.env.BENCH_PARAPHEUR_FOLDERS ?? 100);
const signatures = Number(process.env.BENCH_PARAPHEUR_SIGNATURES ?? 30);
const batch = 50;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** A PDF of about `bytes`: a letter whose page lists enough lines (an annex's table, say). */
function pdfOf(bytes: number): Buffer {
  const line = "Ligne budgétaire 6068 - autres matières et fournitures - 1 250,00 euros - service des écoles";
  return letterPdf("Annexe au budget primitif 2027", Array.from({ length: Math.ceil(bytes / (line.length + 4)) }, (_, i) => `${i} ${line}`));
}

const rennes = { name: "rennes", displayName: "Ville de Rennes", siren: "213502388" };

async function padesBench(): Promise<{ perSecond: number; floorPerSecond: number; ratio: number; bytes: number }> {
  const pdf = pdfOf(2 * 1024 * 1024);
  const authority = await createAuthority(rennes);
  const signer = await issueCertificate(authority, rennes, "signer", { commonName: "Anne Kervella", title: "Maire" });
  const key = createPrivateKey({ key: signer.privateKey, format: "der", type: "pkcs8" });
  const dir = mkdtempSync(join(tmpdir(), "bench-pades-"));
  console.log(`bench: ${signatures} PAdES signatures of a ${(pdf.length / 1024 ** 2).toFixed(1)} MiB PDF`);
  const ms = await timed(async () => {
    for (let i = 0; i < signatures; i++) writeFileSync(join(dir, "signe.pdf"), await padesSign(pdf, signer, [authority.certificatePem], new Date(), { reason: "Signature" }));
  });
  const floorMs = await timed(async () => {
    for (let i = 0; i < signatures; i++) {
      sign("sha256", createHash("sha256").update(pdf).digest(), { key, dsaEncoding: "der" });
      writeFileSync(join(dir, "floor.pdf"), pdf);
    }
  });
  const perSecond = (t: number) => Number((signatures / (t / 1000)).toFixed(1));
  console.log(`bench: PAdES ${perSecond(ms)} signatures/s; floor (digest signed with node:crypto, file written) ${perSecond(floorMs)}/s`);
  return { perSecond: perSecond(ms), floorPerSecond: perSecond(floorMs), ratio: Number((ms / floorMs).toFixed(2)), bytes: pdf.length };
}

async function circuitBench(config: PlatformConfig): Promise<{ ratio: number } & Record<string, unknown>> {
  const env = platformEnv(config);
  const services: RunningService[] = [];
  let client: NatsConnection | undefined;
  let database: Database | undefined;
  try {
    const { credsFile, connectAs } = await benchServicesAccount(config);
    services.push(await benchIdentity(config, credsFile));
    const keyFile = join(config.dir, "parapheur-master.key");
    writeFileSync(keyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
    const common = { HTTP_PORT: "0", HTTP_INTERNAL_PORT: "0", HTTP_HOST: "127.0.0.1", NATS_URL: env.NATS_URL, NATS_CREDS_FILE: credsFile, MONGODB_URI: env.MONGODB_URI, LOG_LEVEL: "error", IDENTITY_ISSUER: env.IDENTITY_ISSUER, IDENTITY_CA_FILE: env.IDENTITY_CA_FILE };
    services.push(await new RunningService(parapheurService(), loadSettings(parapheurSettings, { ...common, SERVICE_NAME: "parapheur", MONGODB_DATABASE: "parapheur", PARAPHEUR_MASTER_KEY_FILE: keyFile, PARAPHEUR_FILES_MAX_BYTES: String(2 * 1024 ** 3) })).start());
    client = await connectAs("bench");
    const nc = client;
    await nc.request("platform.parapheur.tenants.enable", JSON.stringify({ collectivity: "rennes", siren: "213502388", departement: "035", displayName: "Ville de Rennes" }), { timeout: 5000 });
    const as = new Map<string, ReturnType<typeof natsHeaders>>();
    for (const who of ["dsi", "agent", "dgs", "maire"]) {
      const h = natsHeaders();
      h.set("Authorization", `Bearer ${await demoToken(config, `${who}@ville-rennes.example`)}`);
      as.set(who, h);
    }
    const call = async <T>(who: string, subject: string, body: unknown): Promise<T> => {
      const reply = await nc.request(`tenant.rennes.${subject}`, JSON.stringify(body), { timeout: 120_000, headers: as.get(who)! });
      if (reply.headers?.get("Nats-Service-Error-Code")) throw new Error(`${subject} answered ${reply.headers.get("Nats-Service-Error-Code")}: ${reply.headers.get("Nats-Service-Error")}`);
      return reply.json<T>();
    };
    for (const [id, owner] of [["secretariat", "agent"], ["dgs", "dgs"], ["maire", "maire"]] as const) {
      await call("dsi", "parapheur.desks.save", { desk: { id, name: id, owners: [`${owner}@ville-rennes.example`] } });
    }
    await call("dsi", "parapheur.types.save", {
      type: { id: "deliberation", name: "Délibération", protocol: "ACTES", signatureFormat: "PADES", subtypes: [{ id: "conseil", name: "Conseil", circuit: [{ type: "VISA", desks: ["dgs"] }, { type: "SIGNATURE", desks: ["maire"] }, { type: "SEAL" }] }] },
    });
    await call("dsi", "parapheur.certificates.issue", { email: "maire@ville-rennes.example", commonName: "Anne Kervella", title: "Maire" });
    const { secret } = await call<{ secret: string }>("maire", "identity.second-factor.enrol", {});
    let step = Math.floor(Date.now() / 30_000) - 1;
    const confirm = async (purpose: string) => {
      step = Math.max(step + 1, Math.floor(Date.now() / 30_000));
      const wait = (step - 1) * 30_000 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait + 100));
      return (await call<{ confirmation: string }>("maire", "identity.second-factor.confirm", { code: await currentCode(secret, step * 30), purpose })).confirmation;
    };

    const document = letterPdf("Délibération du conseil municipal", ["Le conseil approuve le budget primitif 2027."]);
    const create = () =>
      call<{ id: string }>("agent", "parapheur.folders.create", {
        type: "deliberation",
        subtype: "conseil",
        name: "Budget primitif",
        desk: "secretariat",
        documents: [{ name: "deliberation.pdf", mimeType: "application/pdf", contentBase64: document.toString("base64") }],
        start: true,
      });
    console.log(`bench: ${waiting} folders waiting at the first step`);
    const ids: string[] = [];
    const createMs = await timed(() => pool(Array.from({ length: waiting }, (_, i) => i), 8, async () => ids.push((await create()).id)));
    console.log(`bench: made and sent in ${(createMs / 1000).toFixed(1)} s (${(waiting / (createMs / 1000)).toFixed(1)} folders/s)`);

    const moving = ids.slice(0, through);
    console.log(`bench: ${through} of them through visa, signature (lists of ${batch}) and seal`);
    const circuitMs = await timed(async () => {
      await pool(moving, 8, (id) => call("dgs", "parapheur.folders.visa", { id }));
      for (let i = 0; i < moving.length; i += batch) {
        const list = moving.slice(i, i + batch);
        const signed = await call<{ folders: { signed: boolean; reason?: string }[] }>("maire", "parapheur.folders.sign-batch", { ids: list, confirmation: await confirm(signPurpose(list)) });
        const failed = signed.folders.find((f) => !f.signed);
        if (failed) throw new Error(`a folder was not signed: ${failed.reason}`);
      }
    });
    const last = await call<{ state: string }>("dgs", "parapheur.folders.get", { id: moving.at(-1) });
    if (last.state !== "FINISHED") throw new Error(`the last folder is ${last.state}`);

    // The floor: the same writes, plainly, on the same database and object store.
    database = await Database.connect(env.MONGODB_URI, "parapheur", "bench-floor");
    const collection = database.collection<{ _id: string; step: number }>("floor");
    const files = await ObjectFiles.open(nc, "BENCH_PARAPHEUR_FLOOR", { maxBytes: 1024 ** 3 });
    const key = createPrivateKey({ key: (await issueCertificate(await createAuthority(rennes), rennes, "seal", { commonName: "Rennes" })).privateKey, format: "der", type: "pkcs8" });
    await collection.insertMany(moving.map((id) => ({ _id: id, step: 0 })));
    const floorMs = await timed(() =>
      pool(moving, 8, async (id) => {
        for (let s = 0; s < 3; s++) {
          await collection.updateOne({ _id: id }, { $inc: { step: 1 } });
          if (s > 0) {
            sign("sha256", createHash("sha256").update(document).digest(), { key, dsaEncoding: "der" });
            await files.put(`${id}/${s}`, document);
          }
        }
      }),
    );
    const perSecond = (ms: number) => Number((through / (ms / 1000)).toFixed(1));
    console.log(`bench: circuit ${perSecond(circuitMs)} folders/s with ${waiting} waiting; floor (3 updates, 2 digests signed, 2 files stored per folder) ${perSecond(floorMs)} folders/s`);
    return { waiting, through, batch, createPerSecond: Number((waiting / (createMs / 1000)).toFixed(1)), perSecond: perSecond(circuitMs), floorPerSecond: perSecond(floorMs), ratio: Number((circuitMs / floorMs).toFixed(2)) };
  } finally {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await client?.close();
    await database?.close();
  }
}

const pades = await padesBench();
const config = await freshBenchPlatform(".local/bench-parapheur", "9000");
try {
  const circuit = await circuitBench(config);
  console.log(`bench: parapheur / floor (time, lower is better): PAdES ${pades.ratio}×, circuit ${circuit.ratio}×`);
  saveResult(config, "parapheur.json", { pades, circuit });
} finally {
  await down(config);
}
