import { readFileSync } from "node:fs";
import { ApiException, KubeConfig } from "@kubernetes/client-node";
import { credsAuthenticator, connect, type NatsConnection } from "@nats-io/transport-node";
import {
  ensureOperatorIdentity,
  layout,
  loadConfig,
  platformEnv,
  type CertificateFiles,
  type PlatformConfig,
  type PlatformEnv,
} from "@mutualis/local-platform";

/** The test platform lives beside the developer's one, shifted by this many ports. */
const defaultTestPortOffset = 1000;

export function testPlatformEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    MUTUALIS_LOCAL_DIR: env.MUTUALIS_TEST_LOCAL_DIR ?? ".local/test-platform",
    MUTUALIS_PORT_OFFSET: env.MUTUALIS_TEST_PORT_OFFSET ?? String(defaultTestPortOffset),
    MUTUALIS_UNSAFE_FAST_STORAGE: "1",
    // Operator tests start the operators they need themselves, in process.
    MUTUALIS_WITH_OPERATOR: env.MUTUALIS_TEST_WITH_OPERATOR ?? "0",
  };
}

export interface TestPlatform {
  readonly config: PlatformConfig;
  readonly env: PlatformEnv;
  /** The administrator's kubeconfig. */
  kubeConfig(): KubeConfig;
  /** A kubeconfig acting as another client certificate. */
  kubeConfigFor(identity: CertificateFiles, user: string): KubeConfig;
  /** A connection as the NATS system user, which may push account JWTs. */
  systemNats(): Promise<NatsConnection>;
}

export function testPlatform(): TestPlatform {
  const config = loadConfig(testPlatformEnv());
  const env = platformEnv(config);
  const paths = layout(config);
  const kubeConfigFor = (identity: CertificateFiles, user: string) => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "test", server: env.KUBE_API_URL, caFile: `${paths.pki}/ca.crt`, skipTLSVerify: false }],
      users: [{ name: user, certFile: identity.cert, keyFile: identity.key }],
      contexts: [{ name: "test", cluster: "test", user }],
      currentContext: "test",
    });
    return kc;
  };
  return {
    config,
    env,
    kubeConfig: () => {
      const kc = new KubeConfig();
      kc.loadFromFile(env.KUBECONFIG);
      return kc;
    },
    kubeConfigFor,
    systemNats: async () => {
      await ensureOperatorIdentity(paths.nats);
      return connect({
        servers: env.NATS_URL,
        authenticator: credsAuthenticator(readFileSync(env.NATS_SYSTEM_CREDS)),
        name: "tests-system",
      });
    },
  };
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}` + (lastError ? `: ${String(lastError)}` : ""));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The HTTP status of a Kubernetes API call: 200 when it succeeds, the error's code otherwise. */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}
