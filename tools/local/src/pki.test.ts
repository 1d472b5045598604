import { execFileSync } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensurePki, issueCertificate } from "./pki.ts";

const openssl = (...args: string[]) => execFileSync("openssl", args, { encoding: "utf8" });

describe("the local PKI", () => {
  const dir = mkdtempSync(join(tmpdir(), "mutualis-pki-"));
  const pki = ensurePki(dir);

  it("when a client certificate is issued, then it carries the user in CN and the groups in O, signed by the CA", () => {
    const files = issueCertificate(dir, "agent", { commonName: "agent@rennes", organizations: ["coll-rennes", "agents"] });
    expect(openssl("x509", "-in", files.cert, "-noout", "-subject")).toMatch(/O = coll-rennes, O = agents, CN = agent@rennes|CN = agent@rennes, O = coll-rennes, O = agents/);
    expect(openssl("verify", "-CAfile", pki.ca.cert, files.cert)).toContain(": OK");
  });

  it("when the PKI is ensured twice, then the certificates are kept", () => {
    const first = openssl("x509", "-in", pki.admin.cert, "-noout", "-fingerprint");
    ensurePki(dir);
    expect(openssl("x509", "-in", pki.admin.cert, "-noout", "-fingerprint")).toBe(first);
  });

  it("when the serving certificate is read, then it names the loopback and in-cluster addresses", () => {
    const text = openssl("x509", "-in", pki.serving.cert, "-noout", "-ext", "subjectAltName");
    expect(text).toContain("IP Address:127.0.0.1");
    expect(text).toContain("DNS:kubernetes.default.svc");
  });

  it("when keys are written, then only their owner can read them", () => {
    for (const key of [pki.ca.key, pki.admin.key, pki.serviceAccountPrivateKey]) {
      expect(statSync(key).mode & 0o777).toBe(0o600);
    }
  });

  it("when the admin certificate is read, then it is in system:masters", () => {
    expect(openssl("x509", "-in", pki.admin.cert, "-noout", "-subject")).toContain("O = system:masters");
  });
});
