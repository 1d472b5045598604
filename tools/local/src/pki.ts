import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentNodeName } from "./config.ts";

/** Paths of one certificate and its key. */
export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

export interface ClientIdentity {
  /** The Kubernetes user name. */
  readonly commonName: string;
  /** The Kubernetes groups. */
  readonly organizations?: readonly string[];
}

/** The local certificate authority and the certificates every component needs. */
export interface Pki {
  readonly dir: string;
  readonly ca: CertificateFiles;
  /** Serving certificate of the API server, the controller manager and the scheduler. */
  readonly serving: CertificateFiles;
  readonly admin: CertificateFiles;
  readonly controllerManager: CertificateFiles;
  readonly scheduler: CertificateFiles;
  readonly kwok: CertificateFiles;
  readonly prometheus: CertificateFiles;
  readonly gateway: CertificateFiles;
  readonly nodeAgent: CertificateFiles;
  readonly serviceAccountPublicKey: string;
  readonly serviceAccountPrivateKey: string;
}

const servingNames = [
  "DNS:localhost",
  "DNS:kubernetes",
  "DNS:kubernetes.default",
  "DNS:kubernetes.default.svc",
  "DNS:kubernetes.default.svc.cluster.local",
  "IP:127.0.0.1",
  "IP:10.96.0.1",
];

function openssl(args: readonly string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** An ECDSA P-256 private key, readable by its owner only. */
function generateKey(dir: string, file: string): void {
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", file], dir);
  chmodSync(join(dir, file), 0o600);
}

/**
 * Issues a certificate signed by the local CA. Client certificates carry the Kubernetes
 * user in CN and its groups in O; serving certificates carry subject alternative names.
 * An existing certificate is kept, so identities are stable across restarts.
 */
export function issueCertificate(
  dir: string,
  name: string,
  identity: ClientIdentity,
  usage: "client" | "serving" = "client",
): CertificateFiles {
  const issued = files(dir, name);
  if (existsSync(issued.cert) && existsSync(issued.key)) return issued;
  const subject =
    "/CN=" + identity.commonName + (identity.organizations ?? []).map((o) => "/O=" + o).join("");
  const extensions = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    usage === "client" ? "extendedKeyUsage=clientAuth" : "extendedKeyUsage=serverAuth,clientAuth",
    ...(usage === "serving" ? ["subjectAltName=" + servingNames.join(",")] : []),
  ];
  writeFileSync(join(dir, `${name}.ext`), extensions.join("\n") + "\n");
  generateKey(dir, `${name}.key`);
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], dir);
  openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
      "-days", "825", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.crt`],
    dir,
  );
  return issued;
}

const identities = {
  admin: { commonName: "mutualis-admin", organizations: ["system:masters"] },
  controllerManager: { commonName: "system:kube-controller-manager" },
  scheduler: { commonName: "system:kube-scheduler" },
  kwok: { commonName: "mutualis:kwok" },
  prometheus: { commonName: "mutualis:prometheus" },
  gateway: { commonName: "mutualis:gateway" },
  // A node's identity: the Node authorizer lets it read only what the pods bound to it use.
  nodeAgent: { commonName: `system:node:${agentNodeName}`, organizations: ["system:nodes"] },
} satisfies Record<string, ClientIdentity>;

const fileNames: Record<keyof typeof identities, string> = {
  admin: "admin",
  controllerManager: "controller-manager",
  scheduler: "scheduler",
  kwok: "kwok",
  prometheus: "prometheus",
  gateway: "gateway",
  nodeAgent: `node-${agentNodeName}`,
};

function files(dir: string, name: string): CertificateFiles {
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** Where the PKI's files are, whether or not they exist yet. */
export function pkiPaths(dir: string): Pki {
  return {
    dir,
    ca: files(dir, "ca"),
    serving: files(dir, "serving"),
    admin: files(dir, fileNames.admin),
    controllerManager: files(dir, fileNames.controllerManager),
    scheduler: files(dir, fileNames.scheduler),
    kwok: files(dir, fileNames.kwok),
    prometheus: files(dir, fileNames.prometheus),
    gateway: files(dir, fileNames.gateway),
    nodeAgent: files(dir, fileNames.nodeAgent),
    serviceAccountPublicKey: join(dir, "sa.pub"),
    serviceAccountPrivateKey: join(dir, "sa.key"),
  };
}

/** Creates (once) the local CA, the component certificates and the service-account key pair. */
export function ensurePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(dir, "ca.crt"))) {
    generateKey(dir, "ca.key");
    openssl(
      ["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=mutualis-local-ca", "-days", "3650", "-sha256",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", "ca.crt"],
      dir,
    );
  }
  if (!existsSync(join(dir, "sa.key"))) {
    openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"], dir);
    chmodSync(join(dir, "sa.key"), 0o600);
    openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  }
  issueCertificate(dir, "serving", { commonName: "mutualis-local" }, "serving");
  for (const [key, identity] of Object.entries(identities)) {
    issueCertificate(dir, fileNames[key as keyof typeof identities], identity);
  }
  return pkiPaths(dir);
}
