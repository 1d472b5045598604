import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { down, loadConfig, platformEnv, status, up, StartError } from "@mutualis/local-platform";
import { testPlatformEnv } from "../support/platform.ts";

/**
 * `make up` / `make down` as a user runs them, on a platform of its own (its own directory and
 * ports), so the shared test platform keeps running.
 */
const config = loadConfig(
  testPlatformEnv({
    ...process.env,
    MUTUALIS_TEST_LOCAL_DIR: ".local/test-lifecycle",
    MUTUALIS_TEST_PORT_OFFSET: process.env.MUTUALIS_TEST_LIFECYCLE_PORT_OFFSET ?? "2000",
  }),
);

function listening(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const probe = createServer();
    probe.once("error", () => resolvePromise(true));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolvePromise(false)));
  });
}

describe("make up and make down", () => {
  beforeAll(async () => {
    await down(config);
    rmSync(config.dir, { recursive: true, force: true });
  });
  afterAll(() => down(config));

  it("when up runs twice, then the second run starts nothing and writes the same environment", async () => {
    const env = await up(config);
    const firstPids = (await status(config)).map((c) => [c.name, c.pid]);
    const firstEnvFile = readFileSync(`${config.dir}/env`, "utf8");

    const lines: string[] = [];
    expect(await up(config, (line) => lines.push(line))).toEqual(env);

    expect((await status(config)).map((c) => [c.name, c.pid])).toEqual(firstPids);
    expect(lines.filter((l) => l.includes("starting"))).toEqual([]);
    expect(readFileSync(`${config.dir}/env`, "utf8")).toBe(firstEnvFile);
    expect(firstEnvFile).toMatch(/^KUBECONFIG=.*\/kubeconfig$/m);
    expect(firstEnvFile).toMatch(/^NATS_URL=nats:\/\/127\.0\.0\.1:\d+$/m);
    // The administrative role, over TLS with the local CA; the file is its owner's only.
    expect(firstEnvFile).toMatch(/^MONGODB_URI='mongodb:\/\/mutualis_admin:[^@]+@127\.0\.0\.1:\d+\/\?directConnection=true&tls=true&tlsCAFile=[^&]+&authMechanism=PLAIN&authSource=%24external'$/m);
    // As the README says to use it: sourced by a shell, every value arrives whole.
    const sourced = execFileSync("bash", ["-c", `set -a; . '${config.dir}/env'; set +a; printf '%s\\n' "$MONGODB_URI" "$DATABASE_ADMIN_URL" "$KUBECONFIG"`], { encoding: "utf8" });
    expect(sourced.split("\n").slice(0, 3)).toEqual([platformEnv(config).MONGODB_URI, platformEnv(config).DATABASE_ADMIN_URL, platformEnv(config).KUBECONFIG]);
    expect(firstEnvFile).toMatch(/^DATABASE_ADMIN_URL=postgres:\/\/mutualis_admin:[^@]+@127\.0\.0\.1:\d+\/mutualis$/m);
    expect(firstEnvFile).toMatch(/^PROMETHEUS_URL=http:\/\/127\.0\.0\.1:\d+$/m);
  });

  it("when down runs, then no component runs and no port is left listening", async () => {
    await down(config);
    const after = await status(config);
    expect(after.filter((c) => c.pid !== undefined)).toEqual([]);
    const stillListening: number[] = [];
    for (const port of Object.values(config.ports)) if (await listening(port)) stillListening.push(port);
    expect(stillListening).toEqual([]);
  });

  it("when a component's port is taken by another program, then up fails naming the component and the port", async () => {
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(config.ports.nats, "127.0.0.1", r));
    try {
      const failure = up(config);
      await expect(failure).rejects.toBeInstanceOf(StartError);
      await expect(failure).rejects.toThrow(`nats: port ${config.ports.nats} is already taken by another program`);
    } finally {
      squatter.close();
      await down(config);
    }
  });
});
