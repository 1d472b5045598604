import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { CertificateFiles } from "./pki.ts";

export interface TlsClient {
  readonly caFile: string;
  readonly client?: CertificateFiles;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** A GET with a short timeout, over TLS with the local CA (and a client certificate) when given. */
export function httpGet(url: string, tls?: TlsClient, timeoutMs = 3000): Promise<HttpAnswer> {
  return new Promise((resolvePromise, reject) => {
    const parsed = new URL(url);
    const options = {
      method: "GET",
      timeout: timeoutMs,
      ...(tls && {
        ca: readFileSync(tls.caFile),
        ...(tls.client && { cert: readFileSync(tls.client.cert), key: readFileSync(tls.client.key) }),
      }),
    };
    const send = parsed.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(parsed, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

export async function answersOk(url: string, tls?: TlsClient): Promise<boolean> {
  const answer = await httpGet(url, tls);
  return answer.status === 200;
}

/** Whether anything answers HTTP at `url`, whatever the status (a service behind an ingress that forwards only to ready pods). */
export async function answersAtAll(url: string, tls?: TlsClient): Promise<boolean> {
  return httpGet(url, tls).then(
    () => true,
    () => false,
  );
}
