import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");

describe("the services image", () => {
  // Docker cannot run here; the image's build step (the bundle) and its entrypoint can.
  const out = join(mkdtempSync(join(tmpdir(), "image-")), "services.mjs");
  execFileSync(process.execPath, [join(root, "services/image/scripts/bundle.mjs"), out]);

  it("when the image runs without a service or with an unknown one, then it exits with a usage error listing its services", () => {
    const run = spawnSync(process.execPath, [out, "helios"], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(run.status).toBe(64);
    expect(run.stderr).toContain('unknown service "helios": this image runs actes, flows, gateway, identity, ipl, observatory, operator, parapheur, portal, prefecture-simulator, proconnect-simulator, sesf');
  });

  it("when the services read files at run time, then the bundle carries them where the chunks look for them", () => {
    const chunk = readdirSync(join(dirname(out), "chunks")).find((name) => name.endsWith(".mjs") && readFileSync(join(dirname(out), "chunks", name), "utf8").includes("../schemas/actes/"));
    expect(chunk).toBeDefined();
    expect(existsSync(fileURLToPath(new URL("../schemas/actes/actes.xsd", pathToFileURL(join(dirname(out), "chunks", chunk!)))))).toBe(true);
    expect(existsSync(join(dirname(out), "schemas/actes/insee.xsd"))).toBe(true);
  });

  it("when the image runs a service with missing settings, then the bundled service names them and exits", () => {
    const run = spawnSync(process.execPath, [out, "actes"], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("invalid settings: SERVICE_NAME is required; NATS_URL is required; MONGODB_URI is required");
  });

  it("when the image runs the operator (as the Helm chart does) without its settings, then the bundled operator names the first missing one and exits", () => {
    const run = spawnSync(process.execPath, [out, "operator"], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(run.status).toBe(1);
    expect(`${run.stdout}${run.stderr}`).toContain("MUTUALIS_ZONES is required");
  });

  it("when the Dockerfile builds the image, then it bundles with the same script and runs as the Deployments' non-root user", () => {
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    expect(dockerfile).toContain("node services/image/scripts/bundle.mjs /out/services.mjs");
    expect(dockerfile).toContain("USER 10001:10001");
    expect(dockerfile).toMatch(/ENTRYPOINT \[.*"\/app\/services\.mjs"\]/);
  });

  it("when the Dockerfile installs the workspaces, then it copies every one's package.json and the sources the bundle imports", () => {
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    const { workspaces } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces: string[] };
    expect(workspaces.filter((w) => !dockerfile.includes(`COPY ${w}/package.json ${w}/`))).toEqual([]);
    for (const source of ["api", "cdk8s", "operator", "services"]) expect(dockerfile).toContain(`COPY ${source} ${source}`);
  });
});
