import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { actesService, actesSettings } from "@mutualis/actes";
import { prefectureSimulator, simulatorSettings } from "@mutualis/prefecture-simulator";
import { gateway, gatewaySettings } from "@mutualis/gateway";
import { loadSettings, RunningService } from "@mutualis/service-kit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { createAccount, ensureOperatorIdentity, fromSeed, layout, pushAccountJwt, signAccount, userCreds } from "@mutualis/local-platform";
import { sesfService, sesfSettings } from "@mutualis/sesf";
import { testPlatform } from "./platform.ts";

const platform = testPlatform();

/** Creds in the platform services account, as the operator keeps them (the operator must have started). */
export interface PlatformCreds {
  /** One shared deployment's own user (`nats-<service>`), allowed only what the catalogue says. */
  service(name: string): Promise<string>;
  /** The test's own client, with every right in the account, as a platform operator's tool would have. */
  readonly client: string;
}

/** What a test starts services with: one creds file for all (an account of the test's own), or the platform's users. */
export type ServiceCreds = string | PlatformCreds;

export function credsFor(creds: ServiceCreds, service: string): Promise<string> {
  return typeof creds === "string" ? Promise.resolve(creds) : creds.service(service);
}

function credsFile(content: Uint8Array | string, name: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "creds-")), `${name}.creds`);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

export async function platformServicesCreds(): Promise<PlatformCreds> {
  const core = platform.kubeConfig().makeApiClient(CoreV1Api);
  const keys = await core.readNamespacedSecret({ name: "platform-services-keys", namespace: "mutualis-system" });
  const account = fromSeed(Buffer.from(keys.data!.accountSeed!, "base64"));
  const files = new Map<string, string>();
  return {
    client: credsFile(await userCreds("test-client", account), "test-client"),
    async service(name: string) {
      if (!files.has(name)) {
        const secret = await core.readNamespacedSecret({ name: `nats-${name}`, namespace: "mutualis-system" });
        files.set(name, credsFile(Buffer.from(secret.data!["user.creds"]!, "base64"), name));
      }
      return files.get(name)!;
    },
  };
}

/**
 * A NATS account of a test file's own, pushed to the platform's resolver, its users allowed
 * everything in it: the services' creds file, and a client connected as another user of it.
 */
export async function testServicesAccount(name: string): Promise<{ credsFile: string; client: NatsConnection; dispose(): Promise<void> }> {
  const natsOperator = await ensureOperatorIdentity(layout(platform.config).nats);
  const account = createAccount();
  const system = await platform.systemNats();
  await pushAccountJwt(system, await signAccount(natsOperator, name, account));
  await system.close();
  const credsFile = join(mkdtempSync(join(tmpdir(), `${name}-`)), "services.creds");
  writeFileSync(credsFile, await userCreds("services", account), { mode: 0o600 });
  const client = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(await userCreds("caller", account)), maxReconnectAttempts: -1 });
  return {
    credsFile,
    client,
    // Its streams go with it: what each reserves of the server's disk budget is given back.
    async dispose() {
      const cleaner = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(await userCreds("cleaner", account)) });
      const jsm = await jetstreamManager(cleaner);
      for await (const stream of jsm.streams.list()) await jsm.streams.delete(stream.config.name);
      await cleaner.close();
    },
  };
}

/** What a test file's own services keep in JetStream: small, so that the suite's files fit the server's disk budget together. */
export const smallStreams = {
  ACTES_STREAM_MAX_BYTES: String(32 * 2 ** 20),
  ACTES_FILES_MAX_BYTES: String(64 * 2 ** 20),
  SIMULATOR_ARCHIVES_MAX_BYTES: String(64 * 2 ** 20),
  IPL_FILES_MAX_BYTES: String(32 * 2 ** 20),
};

/** Settings every test service shares: port 0, the test platform's NATS and database. */
export function serviceSettings(credsFile: string): Record<string, string> {
  return {
    HTTP_PORT: "0",
    HTTP_INTERNAL_PORT: "0",
    HTTP_HOST: "127.0.0.1",
    NATS_URL: platform.env.NATS_URL,
    NATS_CREDS_FILE: credsFile,
    MONGODB_URI: platform.env.MONGODB_URI,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
  };
}

/**
 * The shared actes deployment and the prefecture simulator, in this process, as the platform runs
 * them; `verifier` says which identity's tokens actes trusts (TestIdentity.verifierSettings).
 */
export async function startSharedActes(creds: ServiceCreds, databasePrefix: string, verifier: Record<string, string>): Promise<RunningService[]> {
  const simulator = await new RunningService(
    prefectureSimulator(),
    loadSettings(simulatorSettings, { ...serviceSettings(await credsFor(creds, "prefecture-simulator")), SERVICE_NAME: "prefecture-simulator", MONGODB_DATABASE: `${databasePrefix}_prefecture`, SIMULATOR_ACK_DELAY_MS: "50" }),
  ).start();
  const actes = await new RunningService(actesService(), loadSettings(actesSettings, { ...serviceSettings(await credsFor(creds, "actes")), ...verifier, SERVICE_NAME: "actes", MONGODB_DATABASE: `${databasePrefix}_actes` })).start();
  return [simulator, actes];
}

/** The gateway in this process, as the platform runs it, trusting `verifier`'s identity (TestIdentity.verifierSettings). */
export async function startTestGateway(creds: ServiceCreds, databasePrefix: string, verifier: Record<string, string>): Promise<RunningService> {
  return new RunningService(
    gateway(),
    loadSettings(gatewaySettings, {
      ...serviceSettings(await credsFor(creds, "gateway")),
      SERVICE_NAME: "gateway",
      MONGODB_DATABASE: `${databasePrefix}_gateway`,
      KUBECONFIG: platform.env.KUBECONFIG,
      ...verifier,
    }),
  ).start();
}

/** A port free now: for a service whose links must carry its address before it listens. */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * The secure file exchange, in this process, with a master key and a storage directory of its
 * own (`storage`/files); `extra` settings win (limits, the antivirus).
 */
export async function startTestSesf(creds: ServiceCreds, database: string, extra: Record<string, string> = {}): Promise<{ service: RunningService; storage: string; url: string }> {
  const storage = mkdtempSync(join(tmpdir(), "sesf-"));
  const keyFile = join(storage, "master.key");
  writeFileSync(keyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const service = await new RunningService(
    sesfService(),
    loadSettings(sesfSettings, {
      ...serviceSettings(await credsFor(creds, "sesf")),
      SERVICE_NAME: "sesf",
      MONGODB_DATABASE: database,
      HTTP_PORT: String(port),
      HTTP_INTERNAL_PORT: "0",
      SESF_STORAGE_DIR: join(storage, "files"),
      SESF_MASTER_KEY_FILE: keyFile,
      SESF_PUBLIC_URL: url,
      ...extra,
    }),
  ).start();
  return { service, storage, url };
}
