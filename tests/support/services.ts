import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { actesService, actesSettings } from "@mutualis/actes";
import { prefectureSimulator, simulatorSettings } from "@mutualis/prefecture-simulator";
import { ensureDevKeys, gateway, gatewaySettings, mintDevToken } from "@mutualis/gateway";
import { loadSettings, RunningService } from "@mutualis/service-kit";
import { testPlatform } from "./platform.ts";

const platform = testPlatform();

/** The platform services account's creds, as the operator keeps them (the operator must have started). */
export async function platformServicesCreds(): Promise<string> {
  const secret = await platform.kubeConfig().makeApiClient(CoreV1Api).readNamespacedSecret({ name: "platform-services-nats", namespace: "mutualis-system" });
  const file = join(mkdtempSync(join(tmpdir(), "services-")), "services.creds");
  writeFileSync(file, Buffer.from(secret.data!["user.creds"]!, "base64"), { mode: 0o600 });
  return file;
}

/** Settings every test service shares: port 0, the test platform's NATS and database. */
export function serviceSettings(credsFile: string): Record<string, string> {
  return {
    HTTP_PORT: "0",
    HTTP_HOST: "127.0.0.1",
    NATS_URL: platform.env.NATS_URL,
    NATS_CREDS_FILE: credsFile,
    MONGODB_URI: platform.env.MONGODB_URI,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
  };
}

/** The shared actes deployment and the prefecture simulator, in this process, as the platform runs them. */
export async function startSharedActes(credsFile: string, databasePrefix: string): Promise<RunningService[]> {
  const common = serviceSettings(credsFile);
  const simulator = await new RunningService(
    prefectureSimulator(),
    loadSettings(simulatorSettings, { ...common, SERVICE_NAME: "prefecture-simulator", MONGODB_DATABASE: `${databasePrefix}_prefecture`, SIMULATOR_ACK_DELAY_MS: "50" }),
  ).start();
  const actes = await new RunningService(actesService(), loadSettings(actesSettings, { ...common, SERVICE_NAME: "actes", MONGODB_DATABASE: `${databasePrefix}_actes` })).start();
  return [simulator, actes];
}

/** The gateway in this process, as the platform runs it, and a way to mint its callers' tokens. */
export async function startTestGateway(credsFile: string, databasePrefix: string): Promise<{ service: RunningService; token: (user: string, collectivity: string, expiresIn?: string) => Promise<string> }> {
  const keys = await ensureDevKeys(mkdtempSync(join(tmpdir(), "gw-keys-")));
  const service = await new RunningService(
    gateway(),
    loadSettings(gatewaySettings, {
      ...serviceSettings(credsFile),
      SERVICE_NAME: "gateway",
      MONGODB_DATABASE: `${databasePrefix}_gateway`,
      GATEWAY_JWKS_FILE: keys.jwksFile,
      KUBECONFIG: platform.env.KUBECONFIG,
    }),
  ).start();
  const token = (user: string, collectivity: string, expiresIn = "1h") =>
    mintDevToken(keys.keyFile, { user, collectivity, issuer: "mutualis-local", audience: "mutualis-gateway", expiresIn });
  return { service, token };
}
