import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { statfs } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import type { RunningService } from "@mutualis/service-kit";
import { startTestOperator } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { eicar, scanDirectory } from "@mutualis/local-platform";
import { platformServicesCreds, startTestSesf } from "../support/services.ts";
import { bearer, startTestIdentity, type TestIdentity } from "../support/identity.ts";

const platform = testPlatform();
const database = "sesftest_sesf";
/** Multi-gigabyte class by default; SESF_TEST_LARGE_BYTES makes it smaller on a slow disk. */
const largeBytes = Number(process.env.SESF_TEST_LARGE_BYTES ?? 2 * 1024 ** 3 + 123);
let operator: RunningOperator;
let sesf: RunningService;
let nc: NatsConnection;
let mongo: MongoClient;
let storage: string;
let identity: TestIdentity;
const administrator = () =>
  identity.tokenFor("dsi@mairie.example", { "t-sesf-a": ["agent", "administrateur"], "t-sesf-c": ["administrateur"], "t-sesf-d": ["administrateur"], "t-sesf-e": ["administrateur"] });
/** Small chunks, so that a few MiB make several. */
const chunk = 1024 * 1024;

/**
 * A request to sesf as `token`'s holder: by default the collectivities' administrator (one for
 * t-sesf-b, another for the others), who may do everything there.
 */
async function call<T = Record<string, unknown>>(collectivity: string, operation: string, body: unknown = {}, token?: string): Promise<T> {
  // "create" is a share's operation; "vouchers.create" names its own family.
  const family = operation.includes(".") ? "" : "shares.";
  const as = token ?? (collectivity === "t-sesf-b" ? await identity.tokenFor("dsi@brest.example", { "t-sesf-b": ["administrateur"] }) : await administrator());
  const reply = await nc.request(`tenant.${collectivity}.sesf.${family}${operation}`, JSON.stringify(body), { timeout: 10_000, ...bearer(as) });
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

/** A share whose links the test reads from the answer (sesf sends no e-mail for it). */
async function newShare(collectivity: string, extra: Record<string, unknown> = {}): Promise<Created> {
  return call<Created>(collectivity, "create", { description: "Pièces du marché", recipients: [{ email: "titulaire@entreprise.example", name: "Titulaire" }], notify: false, ...extra });
}

/** Alters one bit of a stored file, as a failing disk or an intruder would. */
function flipBit(path: string, offset: number): void {
  const bytes = readFileSync(path);
  bytes[offset]! ^= 0x01;
  writeFileSync(path, bytes);
}

/** Sends one chunk of a chunked upload; the status, the offset the service says it stands at, and the body. */
async function sendChunk(url: string, offset: number, bytes: Buffer): Promise<{ status: number; offset: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: "PATCH", headers: { "content-type": "application/octet-stream", "upload-offset": String(offset) }, body: bytes });
  const text = await res.text();
  return { status: res.status, offset: Number(res.headers.get("upload-offset")), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Starts sending a chunk and breaks the connection halfway, as a train entering a tunnel. */
async function brokenChunk(url: string, offset: number, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve) => {
    const req = request(url, { method: "PATCH", headers: { "content-type": "application/octet-stream", "upload-offset": String(offset), "content-length": String(bytes.length) } });
    req.on("error", () => resolve());
    req.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => (req.destroy(), resolve()), 100));
  });
}

async function startSession(uploadUrl: string, name: string, size: number): Promise<{ status: number; url: string; body: Record<string, unknown> }> {
  const res = await fetch(`${uploadUrl}/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, size }) });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, url: `${uploadUrl}/sessions/${String(body.id)}`, body };
}

describe("SESF: the secure file exchange", () => {
  beforeAll(async () => {
    operator = await startTestOperator();
    const creds = await platformServicesCreds();
    identity = await startTestIdentity(creds, "sesftest_identity", []);
    ({ service: sesf, storage } = await startTestSesf(creds, database, { SESF_MAX_RECIPIENTS: "3", SESF_CHUNK_BYTES: String(chunk), SESF_CLAMD_ADDRESS: platform.env.CLAMD_ADDRESS!, SMTP_URL: platform.env.SMTP_URL,
      SESF_MAX_OPEN_UPLOADS: "3",
      SESF_PASSWORD_FREE_FAILURES: "2",
      SESF_PASSWORD_LOCK_AFTER: "5",
      SESF_SWEEP_SECONDS: "1",
      // The tests stand for the ingress: their X-Forwarded-For gives each test its own client address.
      TRUSTED_PROXIES: "loopback",
      ...identity.verifierSettings,
    }));
    nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(readFileSync(creds.client)) });
    for (const collectivity of ["t-sesf-a", "t-sesf-b", "t-sesf-c", "t-sesf-e"]) {
      await nc.request("platform.sesf.tenants.enable", JSON.stringify({ collectivity, siren: "213502388", departement: "035", displayName: collectivity }), { timeout: 5000 });
    }
    mongo = await MongoClient.connect(platform.env.MONGODB_URI);
  }, 120_000);

  afterAll(async () => {
    await mongo?.close();
    await nc?.close();
    await sesf?.stop();
    await identity?.stop();
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
    // A download counts once the server has sent its last byte, which the client may see first.
    const view = await eventually("both downloads to be counted", async () => {
      const shown = await call<{ files: unknown[]; totalBytes: number; downloads: { recipient: string; count: number }[] }>("t-sesf-a", "get", { id: share.id });
      return shown.downloads[0]?.count === 2 ? shown : undefined;
    }, 10_000);
    expect(view.totalBytes).toBe(small.length + largeBytes);
    expect(view.downloads).toEqual([{ recipient: "titulaire@entreprise.example", count: 2, attempts: 2 }]);
    expect(JSON.stringify(view)).not.toMatch(/wrappedKey|tokenHash|passwordHash/);
  }, 600_000);

  it("when a collectivity is disabled on the exchange, then it can create nothing more but its shares can still be revoked and purged", async () => {
    await nc.request("platform.sesf.tenants.enable", JSON.stringify({ collectivity: "t-sesf-d", siren: "213502388", departement: "035", displayName: "D" }), { timeout: 5000 });
    const share = await newShare("t-sesf-d");
    await upload(share.uploadUrl, "pv.pdf", Readable.from([Buffer.from("%PDF-1.7 pv")]));
    await nc.request("platform.sesf.tenants.disable", JSON.stringify({ collectivity: "t-sesf-d" }), { timeout: 5000 });
    await expect(newShare("t-sesf-d")).rejects.toThrow(/^403/);
    expect(await call("t-sesf-d", "revoke", { id: share.id })).toMatchObject({ state: "revoked" });
    expect(existsSync(join(storage, "files", "t-sesf-d", share.id))).toBe(false);
  });

  it("when another collectivity asks for a share, then it is not found and not listed", async () => {
    const share = await newShare("t-sesf-a");
    await expect(call("t-sesf-b", "get", { id: share.id })).rejects.toThrow(/^404/);
    await expect(call("t-sesf-b", "revoke", { id: share.id })).rejects.toThrow(/^404/);
    expect((await call<{ id: string }[]>("t-sesf-b", "list")).map((s) => s.id)).not.toContain(share.id);
  });

  it("when people of the collectivity and the platform's software reach a share, then only its owner and the administrators manage it, and nobody learns whether another's exists", async () => {
    const alice = await identity.tokenFor("alice.martin@mairie.example", { "t-sesf-a": ["agent"] });
    const bob = await identity.tokenFor("bob.le-goff@mairie.example", { "t-sesf-a": ["secretaire"] });
    const noRole = await identity.tokenFor("nouveau.venu@mairie.example", { "t-sesf-a": [] });
    const outsider = await identity.tokenFor("agent.ailleurs@brest.example", { "t-sesf-b": ["agent", "administrateur"] });
    const operatorToken = await identity.operatorToken();
    const status = async (operation: string, body: unknown, token: string, collectivity = "t-sesf-a") =>
      call(collectivity, operation, body, token).then(
        () => 200,
        (error: Error) => Number(error.message.slice(0, 3)),
      );
    const own = await call<Created>("t-sesf-a", "create", { description: "Marché de voirie", recipients: [{ email: "titulaire@entreprise.example" }] }, alice);
    const byOperator = await call<Created>("t-sesf-a", "create", { recipients: [{ email: "archives@mairie.example" }] }, operatorToken);
    const byId = { id: own.id };
    const table: [string, string, unknown, string, number][] = [
      ["its owner reads it", "get", byId, alice, 200],
      ["its owner changes its recipients", "recipients", { id: own.id, recipients: [{ email: "titulaire@entreprise.example" }, { email: "moe@bureau.example" }] }, alice, 200],
      ["its owner may not read the audit's addresses", "audit", byId, alice, 403],
      ["a colleague does not see it", "get", byId, bob, 404],
      ["a colleague may not add themself as a recipient", "recipients", { id: own.id, recipients: [{ email: "bob.le-goff@mairie.example" }] }, bob, 404],
      ["a colleague may not revoke it", "revoke", byId, bob, 404],
      ["a member with no role yet may do nothing", "get", byId, noRole, 403],
      ["a member with no role yet may create nothing", "create", { recipients: [{ email: "x@example.org" }] }, noRole, 403],
      ["another collectivity's agent is refused on this one's subjects", "get", byId, outsider, 403],
      ["the operator does not see an agent's share", "get", byId, operatorToken, 404],
      ["the operator reads the share it made", "get", { id: byOperator.id }, operatorToken, 200],
      ["the operator may not invite guests", "vouchers.create", { agent: { email: "a@mairie.example" }, guest: { email: "g@example.org" } }, operatorToken, 403],
      ["an agent does not see the operator's share", "get", { id: byOperator.id }, alice, 404],
      ["an administrator reads it", "get", byId, await administrator(), 200],
      ["an administrator reads its audit", "audit", byId, await administrator(), 200],
      ["a token that is not one is refused", "get", byId, "not-a-token", 401],
    ];
    const outcomes = [];
    for (const [why, operation, body, token] of table) outcomes.push([why, await status(operation, body, token)]);
    expect(outcomes).toEqual(table.map(([why, , , , expected]) => [why, expected]));
    // The same share seen by another collectivity's administrator on their own subjects: not found.
    expect(await status("get", byId, outsider, "t-sesf-b")).toBe(404);
    // Lists: each agent their own, the administrator everything.
    const listed = async (token: string) => (await call<{ id: string }[]>("t-sesf-a", "list", {}, token)).map((s) => s.id);
    expect(await listed(alice)).toEqual([own.id]);
    expect(await listed(bob)).toEqual([]);
    expect(await listed(await administrator())).toEqual(expect.arrayContaining([own.id, byOperator.id]));
    // The owner revokes; the audit says who did what.
    expect(await call("t-sesf-a", "revoke", byId, alice)).toMatchObject({ state: "revoked" });
    const trail = await call<{ entries: { event: string; detail: Record<string, unknown> }[] }>("t-sesf-a", "audit", byId);
    expect(trail.entries.filter((e) => e.detail.by).map((e) => [e.event, e.detail.by])).toEqual([
      ["created", "alice.martin@mairie.example"],
      ["recipients-changed", "alice.martin@mairie.example"],
      ["revoked", "alice.martin@mairie.example"],
    ]);
  });

  it("when an agent shares files or invites a guest, then sesf e-mails each recipient their own link and the guest their invitation, through the platform's relay; asked not to, it sends nothing", async () => {
    const caught = async (to: string) =>
      ((await (await fetch(`${platform.env.MAIL_CATCHER_URL}/api/messages?to=${encodeURIComponent(to)}`)).json()) as { messages: { subject: string; text: string; from: string }[] }).messages;
    const alice = await identity.tokenFor("alice.martin@mairie.example", { "t-sesf-a": ["agent"] });
    const stamp = Date.now();
    const recipient = `titulaire-${stamp}@entreprise.example`;
    const share = await call<Created & { links: { email: string; url: string; notified: boolean }[] }>("t-sesf-a", "create", { description: "Pièces du marché", recipients: [{ email: recipient }], password: "Voirie-2027!" }, alice);
    expect(share.links[0]!.notified).toBe(true);
    const [notice] = await eventually("the recipient's e-mail to be caught", async () => ((await caught(recipient)).length ? caught(recipient) : undefined));
    expect(notice!.subject).toBe("Des fichiers vous sont transmis par t-sesf-a");
    expect(notice!.text).toContain("alice.martin@mairie.example (t-sesf-a) vous transmet des fichiers de façon sécurisée : « Pièces du marché »");
    expect(notice!.text).toContain(`Votre lien personnel : ${share.links[0]!.url}`);
    expect(notice!.text).toContain("Un mot de passe vous sera communiqué séparément.");
    expect(notice!.text).not.toContain("Voirie-2027!");
    // A recipient added later gets theirs.
    const added = `juriste-${stamp}@mairie.example`;
    await call("t-sesf-a", "recipients", { id: share.id, recipients: [{ email: recipient }, { email: added }] }, alice);
    await eventually("the added recipient's e-mail", async () => ((await caught(added)).length === 1 ? true : undefined));
    expect(await caught(recipient)).toHaveLength(1);
    // The guest's invitation carries the voucher.
    const guest = `gerant-${stamp}@entreprise.example`;
    const voucher = await call<{ voucherUrl: string; guestNotified: boolean }>("t-sesf-a", "vouchers.create", { description: "Votre offre", agent: { email: "alice.martin@mairie.example" }, guest: { email: guest }, voucherDays: 2 }, alice);
    expect(voucher.guestNotified).toBe(true);
    const [invitation] = await eventually("the guest's invitation", async () => ((await caught(guest)).length ? caught(guest) : undefined));
    expect(invitation!.subject).toBe("t-sesf-a vous invite à déposer des fichiers");
    expect(invitation!.text).toContain(`Déposez-les à cette adresse : ${voucher.voucherUrl}`);
    // The audit says what went out, never the links.
    const trail = await call<{ entries: { event: string; detail: Record<string, unknown> }[] }>("t-sesf-a", "audit", { id: share.id });
    expect(trail.entries.filter((e) => e.event === "notified").map((e) => e.detail)).toEqual([{ sent: 1, failed: 0 }, { sent: 1, failed: 0 }]);
    expect(JSON.stringify(trail)).not.toContain("/api/v1/links/");
    // Asked not to (the caller sends the links itself): nothing.
    const quiet = `discret-${stamp}@entreprise.example`;
    const silent = await call<{ links: { notified: boolean }[] }>("t-sesf-a", "create", { recipients: [{ email: quiet }], notify: false }, alice);
    expect(silent.links[0]!.notified).toBe(false);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 500));
    expect(await caught(quiet)).toEqual([]);
  });

  it("when a share is limited to one download, then the second answers 410 and the content is gone from disk and database", async () => {
    const share = await newShare("t-sesf-a", { downloadLimit: 1 });
    const file = await upload(share.uploadUrl, "offre.pdf", Readable.from([Buffer.from("%PDF-1.7 offre")]));
    const url = `${share.links[0]!.url}/files/${String(file.body.id)}`;
    expect((await download(url)).status).toBe(200);
    // The download counts once sesf has sent its last byte, which the client may see first.
    const downloads = await eventually("the download to be counted", async () => {
      const view = await call<{ downloads: { count: number }[] }>("t-sesf-a", "get", { id: share.id });
      return view.downloads[0]?.count === 1 ? view.downloads : undefined;
    });
    expect(downloads).toEqual([{ recipient: "titulaire@entreprise.example", count: 1, attempts: 1 }]);
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
    flipBit(join(storage, "files", "t-sesf-a", share.id, String(file.body.id)), 10);
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

  it("when ClamAV scans an upload, then its temporary copy of the plaintext is in memory (tmpfs), never on a disk", async () => {
    const conf = readFileSync(join(platform.config.dir, "clamav", "clamd.conf"), "utf8");
    const directory = /^TemporaryDirectory (.+)$/m.exec(conf)?.[1];
    expect(directory).toBe(scanDirectory({ config: platform.config }));
    expect(conf).toMatch(/^LeaveTemporaryFiles no$/m);
    // TMPFS_MAGIC: the directory is memory, whatever else the machine mounts.
    expect((await statfs(directory!)).type).toBe(0x01021994);
    // A scan leaves nothing behind there.
    const share = await newShare("t-sesf-a");
    expect((await upload(share.uploadUrl, "note.txt", Readable.from([Buffer.from("délibération n° 2027-04")]))).status).toBe(201);
    expect(readdirSync(directory!)).toEqual([]);
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

  it("when a file is sent in chunks over a link that breaks, then the upload resumes where it stands and the file is whole", async () => {
    const share = await newShare("t-sesf-a");
    const bytes = randomBytes(2 * chunk + 12_345);
    const started = await startSession(share.uploadUrl, "plans-ouvrage.zip", bytes.length);
    expect(started).toMatchObject({ status: 201, body: { offset: 0, size: bytes.length, chunkBytes: chunk } });

    expect(await sendChunk(started.url, 0, bytes.subarray(0, chunk))).toMatchObject({ status: 204, offset: chunk });
    // The connection breaks in the middle of the second chunk: nothing of it is kept.
    await brokenChunk(started.url, chunk, bytes.subarray(chunk, 2 * chunk));
    const where = await fetch(started.url);
    expect(where.headers.get("upload-offset")).toBe(String(chunk));
    expect(await where.json()).toMatchObject({ offset: chunk, size: bytes.length });
    // A chunk from the wrong place is refused with where the upload stands; so is one too large.
    expect(await sendChunk(started.url, 0, bytes.subarray(0, chunk))).toMatchObject({ status: 409, offset: chunk });
    expect((await sendChunk(started.url, chunk, bytes.subarray(chunk, 2 * chunk + 1))).status).toBe(413);
    expect(await sendChunk(started.url, chunk, bytes.subarray(chunk, 2 * chunk))).toMatchObject({ status: 204, offset: 2 * chunk });
    const last = await sendChunk(started.url, 2 * chunk, bytes.subarray(2 * chunk));
    expect(last).toMatchObject({ status: 201, body: { name: "plans-ouvrage.zip", size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"), scan: "clean" } });

    const back = await download(`${share.links[0]!.url}/files/${String(last.body.id)}`);
    expect(back).toMatchObject({ status: 200, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
    // Only the file is left on disk, as its encrypted chunks; the session is gone.
    expect(readdirSync(join(storage, "files", "t-sesf-a", share.id))).toEqual([String(last.body.id)]);
    expect((await fetch(started.url)).status).toBe(404);
    // A chunk altered on disk fails the download as a whole file would.
    const stored = join(storage, "files", "t-sesf-a", share.id, String(last.body.id));
    const parts = readdirSync(stored);
    expect(parts).toHaveLength(3);
    flipBit(join(stored, parts.find((p) => p.startsWith("0."))!), 100);
    const broken = await download(`${share.links[0]!.url}/files/${String(last.body.id)}`);
    expect(broken.status).toBe(500);
    expect(broken.body).toContain("failed its integrity check");
  });

  it("when a virus is split across two chunks, then the finished file is scanned whole and refused", async () => {
    const share = await newShare("t-sesf-a");
    const bytes = Buffer.concat([Buffer.alloc(chunk - 30, 0x20), Buffer.from(eicar), Buffer.from("\n%%EOF\n")]);
    const started = await startSession(share.uploadUrl, "devis.pdf", bytes.length);
    expect((await sendChunk(started.url, 0, bytes.subarray(0, chunk))).status).toBe(204);
    const last = await sendChunk(started.url, chunk, bytes.subarray(chunk));
    expect(last.status).toBe(400);
    expect(last.body.message).toContain("is infected (Eicar-Test-Signature");
    expect(existsSync(join(storage, "files", "t-sesf-a", share.id, "sessions"))).toBe(false);
    expect((await json(share.links[0]!.url)).body.files).toEqual([]);
  });

  it("when an agent invites a guest with a voucher, then the guest uploads once, the agent downloads, and the voucher cannot be used again", async () => {
    const voucher = await call<{ id: string; voucherUrl: string; uploadUntil: string; links: { email: string; url: string }[] }>("t-sesf-a", "vouchers.create", {
      description: "Pièces justificatives de la demande de subvention",
      agent: { email: "instructeur@mairie.example", name: "Service instructeur" },
      guest: { email: "president@association.example" },
      voucherDays: 3,
      expiryDays: 10,
    });
    expect(new Date(voucher.uploadUntil).getTime() - Date.now()).toBeGreaterThan(2.9 * 86_400_000);
    expect(voucher.links.map((l) => l.email)).toEqual(["instructeur@mairie.example"]);
    // Closing an invitation before sending anything is refused: the guest has not used it.
    expect((await fetch(`${voucher.voucherUrl}/complete`, { method: "POST" })).status).toBe(400);

    const statuts = Buffer.from("%PDF-1.7 Statuts de l'association");
    const sent = await upload(voucher.voucherUrl, "statuts.pdf", Readable.from([statuts]));
    expect(sent.status).toBe(201);
    const done = await fetch(`${voucher.voucherUrl}/complete`, { method: "POST" });
    expect(done.status).toBe(200);
    expect(new Date(((await done.json()) as { expiresAt: string }).expiresAt).getTime() - Date.now()).toBeGreaterThan(9.9 * 86_400_000);

    // One use: the voucher no longer takes files, nor a second "done".
    const again = await upload(voucher.voucherUrl, "autre.pdf", Readable.from([Buffer.from("x")]));
    expect(again.status).toBe(410);
    expect(again.body.message).toContain("invitation has been used");
    expect((await fetch(`${voucher.voucherUrl}/complete`, { method: "POST" })).status).toBe(410);

    const back = await download(`${voucher.links[0]!.url}/files/${String(sent.body.id)}`);
    expect(back).toMatchObject({ status: 200, sha256: createHash("sha256").update(statuts).digest("hex") });
    const view = await call<{ guest: string; uploadsClosed: boolean }>("t-sesf-a", "get", { id: voucher.id });
    expect(view).toMatchObject({ guest: "president@association.example", uploadsClosed: true });
    // The download is audited once sesf has sent its last byte, which the client may see first.
    const trail = await eventually("the download to be audited", async () => {
      const read = await call<{ entries: { event: string; detail: Record<string, unknown> }[] }>("t-sesf-a", "audit", { id: voucher.id });
      return read.entries.length === 5 ? read : undefined;
    });
    // The guest was invited by e-mail through the platform's relay.
    expect(trail.entries.map((e) => e.event)).toEqual(["voucher-created", "notified", "uploaded", "uploads-closed", "downloaded"]);
    expect(trail.entries[2]!.detail).toMatchObject({ by: "president@association.example", file: "statuts.pdf" });
  });

  it("when a voucher is past its date, then the guest cannot upload", async () => {
    const voucher = await call<{ id: string; voucherUrl: string }>("t-sesf-a", "vouchers.create", { agent: { email: "agent@mairie.example" }, guest: { email: "habitant@example.org" }, voucherDays: 1 });
    await mongo.db(database).collection("shares").updateOne({ _id: voucher.id as never }, { $set: { uploadUntil: new Date(Date.now() - 1000) } });
    const late = await upload(voucher.voucherUrl, "piece.pdf", Readable.from([Buffer.from("%PDF-1.7")]));
    expect(late.status).toBe(410);
    expect(late.body.message).toContain("invitation has expired");
    await expect(call("t-sesf-a", "vouchers.create", { agent: { email: "agent@mairie.example" }, guest: { email: "x@example.org" }, voucherDays: 31 })).rejects.toThrow(/^400.*at most 30 days/);
  });

  it("when a collectivity sets limits of its own, then they apply to it alone, and limits above the platform's are refused", async () => {
    const enable = (settings: unknown) =>
      nc.request("platform.sesf.tenants.enable", JSON.stringify({ collectivity: "t-sesf-c", siren: "213502388", departement: "035", displayName: "C", settings }), { timeout: 5000 });
    const refusal = async (settings: unknown) => {
      const reply = await enable(settings);
      return `${reply.headers?.get("Nats-Service-Error-Code")} ${reply.headers?.get("Nats-Service-Error")}`;
    };
    expect(await refusal({ maxFileBytes: 2 ** 40 })).toMatch(/^400 invalid sesf settings: maxFileBytes: must be at most 4294967296 bytes/);
    expect(await refusal({ colour: "bleu" })).toMatch(/^400 invalid sesf settings: .*colour/);
    expect(await refusal({ defaultExpiryDays: 10, maxExpiryDays: 5 })).toMatch(/^400 .*defaultExpiryDays must not be more than maxExpiryDays/);
    expect((await enable({ maxFileBytes: 100, maxFilesPerShare: 1, maxRecipients: 1, maxExpiryDays: 3 })).headers?.get("Nats-Service-Error-Code")).toBeUndefined();

    const two = [{ email: "a@x.example" }, { email: "b@x.example" }];
    await expect(call("t-sesf-c", "create", { recipients: two })).rejects.toThrow(/^400.*at most 1 recipients for this collectivity/);
    await expect(call("t-sesf-c", "create", { recipients: two.slice(1), expiryDays: 4 })).rejects.toThrow(/^400.*at most 3 days/);
    const share = await call<Created & { expiresAt: string }>("t-sesf-c", "create", { recipients: two.slice(1) });
    expect(new Date(share.expiresAt).getTime() - Date.now()).toBeLessThan(3 * 86_400_000 + 60_000);
    const big = await upload(share.uploadUrl, "gros.bin", Readable.from([Buffer.alloc(101)]));
    expect(big.status).toBe(413);
    expect(big.body.message).toContain("at most 100 bytes");
    expect((await startSession(share.uploadUrl, "gros.bin", 101)).status).toBe(413);
    expect((await upload(share.uploadUrl, "petit.txt", Readable.from([Buffer.alloc(100)]))).status).toBe(201);
    const second = await upload(share.uploadUrl, "encore.txt", Readable.from([Buffer.alloc(1)]));
    expect(second).toMatchObject({ status: 400, body: { message: expect.stringContaining("at most 1 files") } });
    // The other collectivities keep the platform's limits.
    expect((await upload((await newShare("t-sesf-b")).uploadUrl, "gros.bin", Readable.from([Buffer.alloc(101)]))).status).toBe(201);
  });

  it("when many downloads of one share run at once, then every one is in the audit, the chain stays whole, nobody gets a 500, and the exhausted share is purged", async () => {
    const three = [{ email: "a@entreprise.example" }, { email: "b@entreprise.example" }, { email: "c@entreprise.example" }];
    const open = await call<Created>("t-sesf-a", "create", { recipients: three, notify: false });
    const file = await upload(open.uploadUrl, "dce.zip", Readable.from([randomBytes(64 * 1024)]));
    const all = await Promise.all(open.links.flatMap((link) => [1, 2, 3].map(() => download(`${link.url}/files/${String(file.body.id)}`))));
    expect(all.map((d) => d.status)).toEqual(Array(9).fill(200));
    // A client has every byte (Content-Length) a moment before sesf records the download: wait for the ninth.
    const trail = await eventually("every download to be recorded", async () => {
      const read = await call<{ entries: { event: string }[]; verification: { valid: boolean } }>("t-sesf-a", "audit", { id: open.id });
      return read.entries.filter((e) => e.event === "downloaded").length >= 9 ? read : undefined;
    });
    expect(trail.verification).toEqual({ valid: true });
    expect(trail.entries.filter((e) => e.event === "downloaded")).toHaveLength(9);

    // Limited to one download each: the two recipients and a second try at once.
    const limited = await call<Created>("t-sesf-a", "create", { recipients: three.slice(0, 2), downloadLimit: 1, notify: false });
    const only = await upload(limited.uploadUrl, "offre.pdf", Readable.from([Buffer.from("%PDF-1.7 offre")]));
    const [a, b] = limited.links.map((link) => `${link.url}/files/${String(only.body.id)}`);
    const statuses = (await Promise.all([download(a!), download(a!), download(b!)])).map((d) => d.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(2);
    expect(statuses.filter((status) => status !== 200)).toEqual([410]);
    const record = await eventually("the share to be purged", async () => {
      const found = await mongo.db(database).collection("shares").findOne({ _id: limited.id as never });
      return found?.state === "exhausted" ? found : undefined;
    });
    expect(record).not.toHaveProperty("wrappedKey");
    const limitedTrail = await eventually("the purge to be recorded", async () => {
      const read = await call<{ entries: { event: string }[]; verification: { valid: boolean } }>("t-sesf-a", "audit", { id: limited.id });
      return read.entries.some((e) => e.event === "purged") ? read : undefined;
    });
    // The files go between the key's removal and the purge's record.
    expect(existsSync(join(storage, "files", "t-sesf-a", limited.id))).toBe(false);
    expect(limitedTrail.verification).toEqual({ valid: true });
    expect(limitedTrail.entries.map((e) => e.event)).toEqual(["created", "uploaded", "downloaded", "downloaded", "exhausted", "purged"]);
  });

  it("when uploads race for a share's last file slots, then the share never holds more files than its limit", async () => {
    await nc.request("platform.sesf.tenants.enable", JSON.stringify({ collectivity: "t-sesf-e", siren: "213502388", departement: "035", displayName: "E", settings: { maxFilesPerShare: 2 } }), { timeout: 5000 });
    const share = await newShare("t-sesf-e");
    const put = (i: number) => fetch(`${share.uploadUrl}/files/piece-${i}.pdf`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: randomBytes(256 * 1024) });
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map(put));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, 201, 400, 400, 400, 400]);
    const refused = (await answers.find((a) => a.status === 400)!.json()) as { message: string };
    expect(refused.message).toBe("a share may hold at most 2 files for this collectivity");
    const view = await call<{ files: unknown[] }>("t-sesf-e", "get", { id: share.id });
    expect(view.files).toHaveLength(2);
    expect(readdirSync(join(storage, "files", "t-sesf-e", share.id))).toHaveLength(2);
  });

  it("when an upload link opens more uploads than allowed at once, then the next is refused until one ends or lapses", async () => {
    const share = await newShare("t-sesf-a");
    const gib = 1024 ** 3;
    const first = await startSession(share.uploadUrl, "plans-1.zip", 4 * gib);
    expect(first.status).toBe(201);
    expect((await startSession(share.uploadUrl, "plans-2.zip", 4 * gib - 10)).status).toBe(201);
    const overBytes = await startSession(share.uploadUrl, "plans-3.zip", 100);
    expect(overBytes).toMatchObject({ status: 409, body: { message: expect.stringContaining("already reserve") } });
    expect((await startSession(share.uploadUrl, "notice.txt", 10)).status).toBe(201);
    const overCount = await startSession(share.uploadUrl, "autre.txt", 1);
    expect(overCount).toMatchObject({ status: 409, body: { message: "at most 3 uploads may be in progress at once on a share: finish one, or let it lapse, first" } });
    // A single request is an upload in progress too.
    expect((await upload(share.uploadUrl, "direct.txt", Readable.from([Buffer.from("x")]))).status).toBe(409);

    // The first lies idle past SESF_UPLOAD_IDLE_HOURS: the sweep abandons it and frees what it held.
    await mongo.db(database).collection("upload_sessions").updateOne({ _id: first.body.id as never }, { $set: { updatedAt: new Date(Date.now() - 25 * 3_600_000) } });
    await eventually("the idle upload to lapse", async () => ((await fetch(first.url)).status === 404 ? true : undefined));
    const next = await startSession(share.uploadUrl, "autre.txt", 1);
    expect(next.status).toBe(201);
    expect((await sendChunk(next.url, 0, Buffer.from("y"))).status).toBe(201);
    /** What the share holds: its file slots (kept or reserved), its uploads in progress and the bytes they reserve. */
    const held = async () => {
      const opens = await mongo.db(database).collection<{ bytes: number }>("open_uploads").find({ shareId: share.id }).toArray();
      return { slots: await mongo.db(database).collection("file_slots").countDocuments({ shareId: share.id }), uploads: opens.length, bytes: opens.reduce((sum, o) => sum + o.bytes, 0) };
    };
    expect(await held()).toEqual({ slots: 3, uploads: 2, bytes: 4 * gib });
    // Closing the link ends the uploads in progress and frees what they held.
    expect((await fetch(`${share.uploadUrl}/complete`, { method: "POST" })).status).toBe(200);
    expect(await held()).toEqual({ slots: 1, uploads: 0, bytes: 0 });
  });

  it("when a share's password is guessed, then the guesser waits longer after each failure and the link locks; the audit says so", async () => {
    const share = await newShare("t-sesf-a", { password: "Cadastre-2027!" });
    const link = share.links[0]!.url;
    const guess = (password: string) => fetch(link, { headers: { "x-share-password": password, "x-forwarded-for": "192.0.2.10" } });
    // SESF_PASSWORD_FREE_FAILURES=2: two wrong passwords cost nothing; the third earns a wait.
    expect((await guess("essai-1")).status).toBe(403);
    expect((await guess("essai-2")).status).toBe(403);
    expect((await guess("essai-3")).status).toBe(403);
    const waiting = await guess("Cadastre-2027!");
    expect(waiting.status).toBe(429);
    expect(waiting.headers.get("retry-after")).toBe("1");
    expect(((await waiting.json()) as { message: string }).message).toMatch(/^too many wrong passwords: try again in 1 s$/);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await guess("essai-4")).status).toBe(403);
    expect((await guess("essai-5")).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    // The fifth failure (SESF_PASSWORD_LOCK_AFTER=5) locks the link: even the right password no longer opens it.
    expect((await guess("essai-5")).status).toBe(403);
    await new Promise((resolve) => setTimeout(resolve, 4100));
    const locked = await guess("Cadastre-2027!");
    expect(locked.status).toBe(403);
    expect(((await locked.json()) as { message: string }).message).toBe("this link is locked after too many wrong passwords: ask its sender for a new one");
    const trail = await call<{ entries: { event: string; detail: Record<string, string> }[] }>("t-sesf-a", "audit", { id: share.id });
    expect(trail.entries.find((e) => e.event === "password-locked")?.detail).toEqual({ recipient: "titulaire@entreprise.example", address: "192.0.2.10" });
  });

  it("when one address guesses the passwords of several links, then it waits on every link", async () => {
    const links = await Promise.all([1, 2, 3, 4].map(async () => (await newShare("t-sesf-a", { password: "Urbanisme-2027!" })).links[0]!.url));
    const guess = (link: string, password: string, from: string) => fetch(link, { headers: { "x-share-password": password, "x-forwarded-for": from } });
    for (const link of links.slice(0, 3)) expect((await guess(link, "essai", "198.51.100.7")).status).toBe(403);
    // A fresh link, but the same address: it waits.
    expect((await guess(links[3]!, "Urbanisme-2027!", "198.51.100.7")).status).toBe(429);
    // Another address, with the right password, is not held back.
    expect((await guess(links[3]!, "Urbanisme-2027!", "198.51.100.8")).status).toBe(200);
  });
});
