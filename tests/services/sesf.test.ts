import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import { loadSettings, RunningService } from "@mutualis/service-kit";
import { sesfService, sesfSettings } from "@mutualis/sesf";
import { startTestOperator } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { eicar } from "@mutualis/local-platform";
import { platformServicesCreds, serviceSettings } from "../support/services.ts";

const platform = testPlatform();
const database = "sesftest_sesf";
/** Multi-gigabyte class by default; SESF_TEST_LARGE_BYTES makes it smaller on a slow disk. */
const largeBytes = Number(process.env.SESF_TEST_LARGE_BYTES ?? 2 * 1024 ** 3 + 123);
let operator: RunningOperator;
let sesf: RunningService;
let nc: NatsConnection;
let mongo: MongoClient;
let storage: string;

async function call<T = Record<string, unknown>>(collectivity: string, operation: string, body: unknown = {}): Promise<T> {
  const reply = await nc.request(`tenant.${collectivity}.sesf.shares.${operation}`, JSON.stringify(body), { timeout: 10_000 });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  if (code) throw new Error(`${code} ${reply.string()}`);
  return reply.json<T>();
}

interface Created {
  id: string;
  uploadUrl: string;
  links: { email: string; url: string }[];
}

/** A deterministic stream of `size` bytes, never held in memory, and its SHA-256 as it goes. */
function generated(size: number): { stream: Readable; sha256: () => string } {
  const hash = createHash("sha256");
  const block = randomBytes(1024 * 1024);
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const piece = Buffer.from(block.subarray(0, Math.min(block.length, size - sent)));
      if (piece.length >= 4) piece.writeUInt32BE(sent % 2 ** 32, 0);
      sent += piece.length;
      hash.update(piece);
      this.push(piece);
    },
  });
  let digest: string | undefined;
  return { stream, sha256: () => (digest ??= hash.digest("hex")) };
}

function upload(url: string, name: string, body: Readable): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/files/${encodeURIComponent(name)}`, { method: "PUT", headers: { "content-type": "application/octet-stream" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown> }));
    });
    req.on("error", reject);
    void pipeline(body, req).catch(reject);
  });
}

/** Downloads a file, hashing it as it comes; the status, its hash and its size. */
function download(url: string, password?: string): Promise<{ status: number; sha256: string; bytes: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(url, { headers: password ? { "x-share-password": password } : {} }, (res) => {
      const hash = createHash("sha256");
      let bytes = 0;
      const head: Buffer[] = [];
      res.on("data", (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
        if (head.length < 4) head.push(c.subarray(0, 512));
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, sha256: hash.digest("hex"), bytes, body: Buffer.concat(head).toString("utf8"), headers: res.headers }));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

async function json(url: string, password?: string): Promise<{ status: number; body: Record<string, unknown> & { files?: { id: string; name: string }[] } }> {
  const res = await fetch(url, { headers: password ? { "x-share-password": password } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function newShare(collectivity: string, extra: Record<string, unknown> = {}): Promise<Created> {
  return call<Created>(collectivity, "create", { description: "Pièces du marché", recipients: [{ email: "titulaire@entreprise.example", name: "Titulaire" }], ...extra });
}

describe("SESF: the secure file exchange", () => {
  beforeAll(async () => {
    operator = await startTestOperator();
    const creds = await platformServicesCreds();
    storage = mkdtempSync(join(tmpdir(), "sesf-"));
    const keyFile = join(storage, "master.key");
    writeFileSync(keyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
    // The links carry the service's address, so it listens on a port known in advance.
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    sesf = await new RunningService(
      sesfService(),
      loadSettings(sesfSettings, {
        ...serviceSettings(creds),
        SERVICE_NAME: "sesf",
        MONGODB_DATABASE: database,
        SESF_STORAGE_DIR: join(storage, "files"),
        SESF_MASTER_KEY_FILE: keyFile,
        HTTP_PORT: String(port),
        SESF_PUBLIC_URL: `http://127.0.0.1:${port}`,
        SESF_MAX_RECIPIENTS: "3",
        SESF_CLAMD_ADDRESS: platform.env.CLAMD_ADDRESS,
      }),
    ).start();
    nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(readFileSync(creds)) });
    for (const collectivity of ["t-sesf-a", "t-sesf-b"]) {
      await nc.request("platform.sesf.tenants.enable", JSON.stringify({ collectivity, siren: "213502388", departement: "035", displayName: collectivity }), { timeout: 5000 });
    }
    mongo = await MongoClient.connect(platform.env.MONGODB_URI);
  }, 120_000);

  afterAll(async () => {
    await mongo?.close();
    await nc?.close();
    await sesf?.stop();
    await operator?.stop();
  });

  it("when a small and a multi-gigabyte file are uploaded, then recipients download identical bytes, and the disk holds only ciphertext", async () => {
    const share = await newShare("t-sesf-a");
    const small = Buffer.from("%PDF-1.7\nCCAP du marché de voirie 2027\n%%EOF\n");
    const sent = await upload(share.uploadUrl, "CCAP.pdf", Readable.from([small]));
    expect(sent.status).toBe(201);
    const large = generated(largeBytes);
    const sentLarge = await upload(share.uploadUrl, "plans.zip", large.stream);
    expect(sentLarge).toMatchObject({ status: 201, body: { size: largeBytes, sha256: large.sha256() } });

    const link = share.links[0]!.url;
    const listing = await json(link);
    expect(listing.body.files!.map((f) => f.name)).toEqual(["CCAP.pdf", "plans.zip"]);
    const smallBack = await download(`${link}/files/${listing.body.files![0]!.id}`);
    expect(smallBack).toMatchObject({ status: 200, sha256: createHash("sha256").update(small).digest("hex"), bytes: small.length });
    expect(smallBack.headers["content-disposition"]).toContain("filename*=UTF-8''CCAP.pdf");
    const largeBack = await download(`${link}/files/${listing.body.files![1]!.id}`);
    expect(largeBack).toMatchObject({ status: 200, sha256: large.sha256(), bytes: largeBytes });

    const stored = join(storage, "files", "t-sesf-a", share.id);
    expect(readFileSync(join(stored, String(sent.body.id))).includes(Buffer.from("CCAP du marché"))).toBe(false);
    const view = await call<{ files: unknown[]; totalBytes: number; downloads: { recipient: string; count: number }[] }>("t-sesf-a", "get", { id: share.id });
    expect(view.totalBytes).toBe(small.length + largeBytes);
    expect(view.downloads).toEqual([{ recipient: "titulaire@entreprise.example", count: 2 }]);
    expect(JSON.stringify(view)).not.toMatch(/wrappedKey|tokenHash|passwordHash/);
  }, 600_000);

  it("when another collectivity asks for a share, then it is not found and not listed", async () => {
    const share = await newShare("t-sesf-a");
    await expect(call("t-sesf-b", "get", { id: share.id })).rejects.toThrow(/^404/);
    await expect(call("t-sesf-b", "revoke", { id: share.id })).rejects.toThrow(/^404/);
    expect((await call<{ id: string }[]>("t-sesf-b", "list")).map((s) => s.id)).not.toContain(share.id);
  });

  it("when a share is limited to one download, then the second answers 410 and the content is gone from disk and database", async () => {
    const share = await newShare("t-sesf-a", { downloadLimit: 1 });
    const file = await upload(share.uploadUrl, "offre.pdf", Readable.from([Buffer.from("%PDF-1.7 offre")]));
    const url = `${share.links[0]!.url}/files/${String(file.body.id)}`;
    expect((await download(url)).status).toBe(200);
    expect((await download(url)).status).toBe(410);
    await eventually("the content to be purged", async () => (existsSync(join(storage, "files", "t-sesf-a", share.id)) ? undefined : true));
    const record = await mongo.db(database).collection("shares").findOne({ _id: share.id as never });
    expect(record).toMatchObject({ state: "exhausted" });
    expect(record).not.toHaveProperty("wrappedKey");
  });

  it("when a share has expired, then its links answer 410 and its content is purged", async () => {
    const share = await newShare("t-sesf-a", { expiryDays: 1 });
    await upload(share.uploadUrl, "pv.pdf", Readable.from([Buffer.from("%PDF-1.7 pv")]));
    await mongo.db(database).collection("shares").updateOne({ _id: share.id as never }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const answer = await json(share.links[0]!.url);
    expect(answer.status).toBe(410);
    expect(answer.body.message).toContain("expired");
    expect(existsSync(join(storage, "files", "t-sesf-a", share.id))).toBe(false);
    expect(await mongo.db(database).collection("shares").findOne({ _id: share.id as never })).not.toHaveProperty("wrappedKey");
    expect((await upload(share.uploadUrl, "late.pdf", Readable.from([Buffer.from("x")]))).status).toBe(410);
  });

  it("when the password is wrong or missing, then the answer is the same as for a link that does not exist", async () => {
    const share = await newShare("t-sesf-a", { password: "Voirie-2027!" });
    const wrong = await json(share.links[0]!.url, "voirie-2027");
    const missing = await json(share.links[0]!.url);
    const unknown = await json(share.links[0]!.url.replace(/[^/]+$/, randomBytes(32).toString("base64url")));
    expect(wrong).toEqual(unknown);
    expect(missing).toEqual(unknown);
    expect(unknown.status).toBe(403);
    expect((await json(share.links[0]!.url, "Voirie-2027!")).status).toBe(200);
  });

  it("when the stored ciphertext is altered, then the download fails with a clear error and no bytes of the file", async () => {
    const share = await newShare("t-sesf-a");
    const file = await upload(share.uploadUrl, "rib.pdf", Readable.from([Buffer.from("%PDF-1.7 IBAN FR76 3000 6000 0112 3456 7890 189")]));
    const path = join(storage, "files", "t-sesf-a", share.id, String(file.body.id));
    const bytes = readFileSync(path);
    bytes[10]! ^= 0x01;
    writeFileSync(path, bytes);
    const answer = await download(`${share.links[0]!.url}/files/${String(file.body.id)}`);
    expect(answer.status).toBe(500);
    expect(answer.body).toContain("failed its integrity check");
    expect(answer.body).not.toContain("IBAN");
  });

  it("when a file name tries to climb out or hides characters, then it is neutralised and the file is stored under a random id", async () => {
    const share = await newShare("t-sesf-a");
    const file = await upload(share.uploadUrl, "../../etc/pass\u202ewd", Readable.from([Buffer.from("x")]));
    expect(file.body.name).toBe("pass_wd");
    expect(readdirSync(join(storage, "files", "t-sesf-a", share.id))).toEqual([String(file.body.id)]);
    expect(existsSync(join(storage, "etc"))).toBe(false);
  });

  it("when an audit entry is rewritten in the database, then the share's chain says which one", async () => {
    const share = await newShare("t-sesf-a");
    await upload(share.uploadUrl, "a.pdf", Readable.from([Buffer.from("%PDF-1.7 a")]));
    await call("t-sesf-a", "revoke", { id: share.id });
    const intact = await call<{ entries: { event: string }[]; verification: { valid: boolean } }>("t-sesf-a", "audit", { id: share.id });
    expect(intact.entries.map((e) => e.event)).toEqual(["created", "uploaded", "revoked", "purged"]);
    expect(intact.verification).toEqual({ valid: true });
    await mongo.db(database).collection("audit").updateOne({ _id: `${share.id}:2` as never }, { $set: { "detail.file": "autre.pdf" } });
    const tampered = await call<{ verification: { valid: boolean; brokenAt: number } }>("t-sesf-a", "audit", { id: share.id });
    expect(tampered.verification).toMatchObject({ valid: false, brokenAt: 2 });
  });

  it("when recipients change, then new ones get links and removed ones' links stop working; too many recipients are refused", async () => {
    const share = await newShare("t-sesf-a");
    const changed = await call<{ links: { email: string; url: string }[] }>("t-sesf-a", "recipients", { id: share.id, recipients: [{ email: "juriste@mairie.example" }] });
    expect(changed.links.map((l) => l.email)).toEqual(["juriste@mairie.example"]);
    expect((await json(changed.links[0]!.url)).status).toBe(200);
    expect((await json(share.links[0]!.url)).status).toBe(403);
    const many = Array.from({ length: 4 }, (_, i) => ({ email: `r${i}@x.example` }));
    await expect(call("t-sesf-a", "create", { recipients: many })).rejects.toThrow(/400.*at most 3 recipients/);
  });

  it("when a file carries the EICAR test virus, then ClamAV flags it, the upload is refused and the file is never downloadable", async () => {
    const share = await newShare("t-sesf-a");
    const clean = await upload(share.uploadUrl, "note.txt", Readable.from([Buffer.from("compte rendu")]));
    expect(clean.body.scan).toBe("clean");
    const infected = await upload(share.uploadUrl, "facture.pdf", Readable.from([Buffer.from(`%PDF-1.7\n${eicar}\n%%EOF`)]));
    expect(infected.status).toBe(400);
    expect(infected.body.message).toContain("is infected (Eicar-Test-Signature");
    const view = await call<{ files: { id: string; name: string; scan: string; signature?: string }[] }>("t-sesf-a", "get", { id: share.id });
    const flagged = view.files.find((f) => f.name === "facture.pdf")!;
    expect(flagged).toMatchObject({ scan: "infected", signature: expect.stringContaining("Eicar-Test-Signature") });
    expect(readdirSync(join(storage, "files", "t-sesf-a", share.id))).toEqual([String(clean.body.id)]);
    expect((await json(share.links[0]!.url)).body.files!.map((f) => f.name)).toEqual(["note.txt"]);
    expect((await download(`${share.links[0]!.url}/files/${flagged.id}`)).status).toBe(409);
  });
});
