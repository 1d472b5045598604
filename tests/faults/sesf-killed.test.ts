import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import { startTestOperator } from "../support/operator.ts";
import { bearer, startTestIdentity, type TestIdentity } from "../support/identity.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { freePort, platformServicesCreds, serviceSettings } from "../support/services.ts";

const platform = testPlatform();
const chunk = 1024 * 1024;

/**
 * sesf as a process of its own, so that it can be killed (SIGKILL: no graceful stop, requests
 * cut, nothing flushed) and started again on the same port, storage and database.
 */
function startSesf(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", resolve("services/sesf/src/main.ts")], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...env } });
}

async function answers(url: string): Promise<boolean> {
  return fetch(url).then(
    () => true,
    () => false,
  );
}

/** Sends the first half of a chunk, then lets `cut` run while the request is still open. */
function halfChunk(url: string, offset: number, bytes: Buffer, cut: () => void): Promise<void> {
  return new Promise((resolvePromise) => {
    const req = request(url, { method: "PATCH", headers: { "content-type": "application/octet-stream", "upload-offset": String(offset), "content-length": String(bytes.length) } });
    req.on("error", () => resolvePromise());
    req.on("response", () => resolvePromise());
    req.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(cut, 100));
  });
}

describe("faults: sesf killed during a chunked upload", () => {
  let identity: TestIdentity;
  let nc: NatsConnection;
  let sesf: ChildProcess | undefined;
  let env: Record<string, string>;
  let url: string;
  let operator: RunningOperator;

  beforeAll(async () => {
    // The operator sets up the platform services account whose creds sesf uses.
    operator = await startTestOperator();
    const creds = await platformServicesCreds();
    identity = await startTestIdentity(creds, "faults_identity", []);
    const storage = mkdtempSync(join(tmpdir(), "sesf-faults-"));
    writeFileSync(join(storage, "master.key"), randomBytes(32).toString("base64"), { mode: 0o600 });
    url = `http://127.0.0.1:${await freePort()}`;
    env = {
      ...serviceSettings(await creds.service("sesf")),
      SERVICE_NAME: "sesf",
      HTTP_PORT: new URL(url).port,
      MONGODB_DATABASE: "faults_sesf",
      SESF_STORAGE_DIR: join(storage, "files"),
      SESF_MASTER_KEY_FILE: join(storage, "master.key"),
      SESF_PUBLIC_URL: url,
      SESF_CHUNK_BYTES: String(chunk),
      ...identity.verifierSettings,
    };
    nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(readFileSync(creds.client)) });
    sesf = startSesf(env);
    await eventually("sesf to listen", async () => ((await answers(`${url}/`)) ? true : undefined), 60_000);
    await nc.request("platform.sesf.tenants.enable", JSON.stringify({ collectivity: "t-faults", siren: "213502388", departement: "035", displayName: "Faults" }), { timeout: 5000 });
  }, 120_000);

  afterAll(async () => {
    sesf?.kill("SIGTERM");
    await nc?.close();
    await identity?.stop();
    await operator?.stop();
  });

  it("when sesf is killed with SIGKILL in the middle of a chunk, then after it starts again the upload stands where its last whole chunk left it, resumes, and the file is whole", async () => {
    const token = await identity.tokenFor("agent@faults.example", { "t-faults": ["agent"] });
    const reply = await nc.request("tenant.t-faults.sesf.shares.create", JSON.stringify({ recipients: [{ email: "titulaire@entreprise.example" }], notify: false }), { timeout: 10_000, ...bearer(token) });
    const share = reply.json<{ uploadUrl: string; links: { url: string }[] }>();
    const content = randomBytes(3 * chunk + 1234);
    const started = await fetch(`${share.uploadUrl}/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "plans.zip", size: content.length }) });
    const session = `${share.uploadUrl}/sessions/${((await started.json()) as { id: string }).id}`;
    expect((await fetch(session, { method: "PATCH", headers: { "upload-offset": "0" }, body: content.subarray(0, chunk) })).status).toBe(204);

    // Killed while the second chunk is half sent.
    const killed = new Promise((resolvePromise) => sesf!.once("exit", resolvePromise));
    await halfChunk(session, chunk, content.subarray(chunk, 2 * chunk), () => sesf!.kill("SIGKILL"));
    await killed;
    sesf = startSesf(env);
    await eventually("sesf to listen again", async () => ((await answers(`${url}/`)) ? true : undefined), 60_000);

    // The upload stands after its first chunk: the half chunk left nothing behind.
    const standing = await fetch(session);
    expect(standing.headers.get("upload-offset")).toBe(String(chunk));
    for (let offset = chunk; offset < content.length; offset += chunk) {
      const sent = await fetch(session, { method: "PATCH", headers: { "upload-offset": String(offset) }, body: content.subarray(offset, Math.min(offset + chunk, content.length)) });
      expect(sent.status).toBe(offset + chunk >= content.length ? 201 : 204);
    }
    const listing = (await (await fetch(share.links[0]!.url)).json()) as { files: { id: string; size: number }[] };
    expect(listing.files).toHaveLength(1);
    const downloaded = Buffer.from(await (await fetch(`${share.links[0]!.url}/files/${listing.files[0]!.id}`)).arrayBuffer());
    expect(createHash("sha256").update(downloaded).digest("hex")).toBe(createHash("sha256").update(content).digest("hex"));
  });
});
