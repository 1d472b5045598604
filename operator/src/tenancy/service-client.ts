import { headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import type { PlatformToken } from "./platform-token.ts";

/** The status codes the platform's services answer with (the service kit's `statusOf`). */
export const serviceCodes = {
  invalidRequest: 400,
  unauthorized: 401,
  forbidden: 403,
  notFound: 404,
  conflict: 409,
  gone: 410,
  payloadTooLarge: 413,
  tooManyRequests: 429,
  unavailable: 503,
} as const;

/**
 * A call to a platform service that did not succeed: the service's status code and its public
 * message, or no code when nothing answered. Reconcilers decide on the code, never on the text.
 */
export class ServiceCallError extends Error {
  override name = "ServiceCallError";
  constructor(
    readonly subject: string,
    /** The service's code; undefined when it did not answer (no responder, a timeout, no connection). */
    readonly code: number | undefined,
    /** What the service said (its public message), or why there was no answer. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(code === undefined ? `no answer on ${subject}: ${detail}` : `${subject} answered ${code}: ${detail}`, options);
  }

  /** The service refused the request as it is (a bad setting, over a limit): retrying cannot help until the spec changes. */
  get refused(): boolean {
    return this.code === serviceCodes.invalidRequest || this.code === serviceCodes.payloadTooLarge;
  }

  /** The request conflicts with what the service holds (it exists already…). */
  get conflict(): boolean {
    return this.code === serviceCodes.conflict;
  }
}

/** NATS headers carrying an access token, as the gateway sends a caller's. */
function bearerHeaders(token: string): MsgHdrs {
  const h = headers();
  h.set("Authorization", `Bearer ${token}`);
  return h;
}

/**
 * The one client every reconciler calls the platform's services with, over the services
 * account's connection: platform endpoints (`platform.<service>.…`, which NATS permissions guard)
 * and a collectivity's endpoints (`tenant.<collectivity>.<service>.…`) with the operator's own
 * access token, which the service verifies. Failures are `ServiceCallError`s with the code.
 */
export class ServiceClient {
  constructor(
    private readonly connection: () => NatsConnection | undefined,
    private readonly token?: Pick<PlatformToken, "token">,
    private readonly timeoutMs = 5000,
  ) {}

  /** `platform.<service>.<operation>`. */
  platform<T>(service: string, operation: string, body: unknown): Promise<T> {
    return this.request<T>(`platform.${service}.${operation}`, body);
  }

  /** `tenant.<collectivity>.<service>.<operation>`, as the operator (its client-credentials token). */
  async tenant<T>(collectivity: string, service: string, operation: string, body: unknown): Promise<T> {
    const subject = `tenant.${collectivity}.${service}.${operation}`;
    if (!this.token) throw new ServiceCallError(subject, undefined, "the operator has no platform identity to call services with (IDENTITY_ISSUER and OPERATOR_CLIENT_SECRET_FILE)");
    let token: string;
    try {
      token = await this.token.token();
    } catch (error) {
      throw new ServiceCallError(subject, undefined, (error as Error).message, { cause: error });
    }
    return this.request<T>(subject, body, token);
  }

  private async request<T>(subject: string, body: unknown, token?: string): Promise<T> {
    const connection = this.connection();
    if (!connection) throw new ServiceCallError(subject, undefined, "the platform services account is not set up yet");
    let reply;
    try {
      reply = await connection.request(subject, JSON.stringify(body), token ? { timeout: this.timeoutMs, headers: bearerHeaders(token) } : { timeout: this.timeoutMs });
    } catch (error) {
      throw new ServiceCallError(subject, undefined, (error as Error).message, { cause: error });
    }
    const code = reply.headers?.get("Nats-Service-Error-Code");
    if (code) throw new ServiceCallError(subject, Number(code), reply.headers?.get("Nats-Service-Error") ?? "");
    return reply.json<T>();
  }
}
