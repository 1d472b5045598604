import { writeFileSync } from "node:fs";
import { stringify } from "yaml";
import type { CertificateFiles } from "./pki.ts";

/** Writes a kubeconfig for one client-certificate identity against the local API server. */
export function writeKubeconfig(file: string, server: string, caFile: string, identity: CertificateFiles, user: string): void {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "mutualis-local", cluster: { server, "certificate-authority": caFile } }],
    users: [{ name: user, user: { "client-certificate": identity.cert, "client-key": identity.key } }],
    contexts: [{ name: "mutualis-local", context: { cluster: "mutualis-local", user } }],
    "current-context": "mutualis-local",
  };
  writeFileSync(file, stringify(config), { mode: 0o600 });
}
