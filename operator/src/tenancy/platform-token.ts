import { request } from "node:https";
import { MessagingError } from "./nats-accounts.ts";

export interface PlatformIdentity {
  /** The platform's issuer (https, no trailing slash), as its tokens name it. */
  readonly issuer: string;
  readonly clientId: string;
  /** Its client's secret: without it the operator has no token of its own. */
  readonly clientSecret?: string;
  /** The PEM of the CA that signed the issuer's certificate, when it is not a public one. */
  readonly ca?: string;
}

function post(url: string, body: string, headers: Record<string, string>, ca: string | undefined): Promise<{ status: number; text: string }> {
  return new Promise((resolvePromise, reject) => {
    const call = request(url, { method: "POST", headers: { ...headers, "content-length": Buffer.byteLength(body) }, ...(ca ? { ca } : {}), timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    call.on("timeout", () => call.destroy(new Error("timed out")));
    call.on("error", reject);
    call.end(body);
  });
}

/**
 * The operator's own access token for the platform's API (client credentials), kept until a
 * minute before it expires: what it shows sesf when it makes and revokes a SecureShare's share.
 * The client secret never leaves this object, not even in an error.
 */
export class PlatformToken {
  private current: { token: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(private readonly identity: PlatformIdentity & { readonly clientSecret: string }) {}

  async token(): Promise<string> {
    if (this.current && Date.now() < this.current.renewAt) return this.current.token;
    this.pending ??= this.fetchToken().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async fetchToken(): Promise<string> {
    const { issuer, clientId, clientSecret, ca } = this.identity;
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64");
    let answer: { status: number; text: string };
    try {
      answer = await post(`${issuer}/token`, new URLSearchParams({ grant_type: "client_credentials", scope: "api" }).toString(), { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${basic}` }, ca);
    } catch (error) {
      throw new MessagingError(`the identity service (${issuer}) cannot be reached for the operator's token: ${(error as Error).message}`);
    }
    let body: { access_token?: string; expires_in?: number; error?: string; error_description?: string };
    try {
      body = JSON.parse(answer.text) as typeof body;
    } catch {
      body = {};
    }
    if (answer.status !== 200 || !body.access_token) {
      throw new MessagingError(`the identity service refused the operator's token (HTTP ${answer.status}${body.error ? `, ${body.error}` : ""}${body.error_description ? `: ${body.error_description}` : ""})`);
    }
    const lifetime = (body.expires_in ?? 300) * 1000;
    this.current = { token: body.access_token, renewAt: Date.now() + Math.max(lifetime - 60_000, lifetime / 2) };
    return body.access_token;
  }
}
