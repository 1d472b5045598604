import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";

/** What a request to the API server carries: TLS material and the caller's headers. */
export interface Credentials {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly rejectUnauthorized?: boolean;
  readonly servername?: string;
  readonly headers: Record<string, string>;
}

/** Where the API server is and how to be let in; credentials() reads files again (tokens rotate). */
export interface Connection {
  readonly server: string;
  credentials(): Promise<Credentials>;
}

interface KubeconfigFile {
  "current-context"?: string;
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
  contexts?: { name: string; context: { cluster: string; user: string } }[];
}

const inClusterDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The connection a kubeconfig file describes (its current context, or the one named): client
 * certificates and bearer tokens, inline or in files (relative to the kubeconfig), as kubectl
 * reads them. Credential plugins (exec, auth-provider) and passwords are refused with a message:
 * the operator authenticates as a service account or with a certificate, never as a person.
 *
 * The operator reads its kubeconfig with this rather than @kubernetes/client-node, which it would
 * otherwise load whole (tens of MiB resident) for these few fields.
 */
export function kubeconfigConnection(file: string, contextName?: string): Connection {
  const config = (parse(readFileSync(file, "utf8")) ?? {}) as KubeconfigFile;
  const wanted = contextName ?? config["current-context"];
  const context = config.contexts?.find((c) => c.name === wanted)?.context;
  if (!context) throw new Error(`kubeconfig ${file}: no context ${wanted ? `"${wanted}"` : "is current"}`);
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw new Error(`kubeconfig ${file}: context "${wanted}" names a cluster "${context.cluster}" that is not defined`);
  const user = config.users?.find((u) => u.name === context.user)?.user ?? {};
  for (const unsupported of ["exec", "auth-provider", "username", "password"]) {
    if (user[unsupported] !== undefined) throw new Error(`kubeconfig ${file}: user "${context.user}" authenticates with ${unsupported}, which the operator does not support (use a client certificate or a token)`);
  }
  const server = text(cluster.server);
  if (!server) throw new Error(`kubeconfig ${file}: cluster "${context.cluster}" has no server`);
  const base = dirname(file);
  const material = (inline: unknown, path: unknown): Buffer | undefined => {
    if (typeof inline === "string" && inline) return Buffer.from(inline, "base64");
    if (typeof path === "string" && path) return readFileSync(isAbsolute(path) ? path : join(base, path));
    return undefined;
  };
  return {
    server,
    async credentials() {
      // client-go spells it tokenFile; client-node reads token-file too, and the local node agent writes that.
      const tokenFile = text(user.tokenFile) ?? text(user["token-file"]);
      const token = text(user.token) ?? (tokenFile ? readFileSync(isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile), "utf8").trim() : undefined);
      return {
        ca: material(cluster["certificate-authority-data"], cluster["certificate-authority"]),
        cert: material(user["client-certificate-data"], user["client-certificate"]),
        key: material(user["client-key-data"], user["client-key"]),
        ...(cluster["insecure-skip-tls-verify"] === true ? { rejectUnauthorized: false } : {}),
        ...(text(cluster["tls-server-name"]) ? { servername: text(cluster["tls-server-name"]) } : {}),
        headers: token ? { authorization: `Bearer ${token}` } : ({} as Record<string, string>),
      };
    },
  };
}

/** The pod's service account, as every in-cluster client finds it. */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, dir = inClusterDir): Connection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (give a kubeconfig with KUBECONFIG)");
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    async credentials() {
      return { ca: readFileSync(join(dir, "ca.crt")), headers: { authorization: `Bearer ${readFileSync(join(dir, "token"), "utf8").trim()}` } };
    },
  };
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value ? value : undefined;
}
