import { credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";

export class AccountPushError extends Error {
  override name = "AccountPushError";
}

interface ClaimsUpdateReply {
  data?: { code?: number; message?: string };
  error?: { code?: number; description?: string };
}

/**
 * Pushes an account JWT to the server's full resolver through the system account
 * (`$SYS.REQ.CLAIMS.UPDATE`). The server stores it and applies it to live connections.
 */
export async function pushAccountJwt(systemConnection: NatsConnection, accountJwt: string): Promise<void> {
  const reply = await systemConnection.request("$SYS.REQ.CLAIMS.UPDATE", accountJwt, { timeout: 5000 });
  const body = reply.json<ClaimsUpdateReply>();
  if (body.error) {
    throw new AccountPushError(`the NATS resolver refused the account: ${body.error.description ?? "unknown error"}`);
  }
}

export { credsAuthenticator };
