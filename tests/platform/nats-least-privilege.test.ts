import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import { startTestOperator } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { platformServicesCreds, type PlatformCreds } from "../support/services.ts";

/**
 * Each shared deployment's NATS user, as the operator issues it from the catalogue: tried against
 * the real server with what a flaw in that service would try. Refusals are the server's own
 * permission violations; what the service needs still goes through.
 */
const platform = testPlatform();
let operator: RunningOperator;
let creds: PlatformCreds;
const connections: NatsConnection[] = [];

/** A connection as one user, and the permission violations the server tells it of. */
async function as(user: string): Promise<{ nc: NatsConnection; violations: string[] }> {
  const nc = await connect({
    servers: platform.env.NATS_URL,
    authenticator: credsAuthenticator(readFileSync(await creds.service(user))),
    inboxPrefix: `_INBOX.${user}`,
    name: `least-privilege-${user}`,
  });
  connections.push(nc);
  const violations: string[] = [];
  void (async () => {
    for await (const status of nc.status()) if (status.type === "error") violations.push(String(status.error));
  })();
  return { nc, violations };
}

async function refusedPublish(user: string, subject: string): Promise<void> {
  const { nc, violations } = await as(user);
  nc.publish(subject, "x");
  await nc.flush().catch(() => undefined);
  await eventually(`${user}'s publish to ${subject} to be refused`, async () => (violations.some((v) => v.includes(`Permissions Violation for Publish to "${subject}"`)) ? true : undefined), 10_000);
}

async function refusedSubscription(user: string, subject: string): Promise<void> {
  const { nc, violations } = await as(user);
  nc.subscribe(subject);
  await nc.flush().catch(() => undefined);
  await eventually(`${user}'s subscription to ${subject} to be refused`, async () => (violations.some((v) => v.includes(`Permissions Violation for Subscription to "${subject}"`)) ? true : undefined), 10_000);
}

beforeAll(async () => {
  // The operator issues the users and writes their creds (nats-<service>) as it starts.
  operator = await startTestOperator({ leaderElection: false });
  creds = await platformServicesCreds();
});

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await operator?.stop();
});

describe("the platform services account: one NATS user per shared deployment, each held to its subjects", () => {
  it("when the public observatory is subverted, then it can neither act as the operator or the prefecture, nor touch the events stream, nor listen to any service", async () => {
    await refusedPublish("observatory", "platform.actes.tenants.enable");
    await refusedPublish("observatory", "prefecture.actes.t-rennes.returns.act-1");
    await refusedPublish("observatory", "tenant.t-rennes.actes.submit");
    await refusedPublish("observatory", "$JS.API.STREAM.DELETE.MUTUALIS_EVENTS");
    await refusedPublish("observatory", "$JS.API.STREAM.PURGE.MUTUALIS_EVENTS");
    await refusedPublish("observatory", "events.t-rennes.actes.acknowledged");
    await refusedSubscription("observatory", "tenant.*.actes.>");
    await refusedSubscription("observatory", "_INBOX.gateway.>");
  });

  it("when the gateway is subverted, then it forwards requests but serves nothing, enables no collectivity and reads no one's replies", async () => {
    await refusedSubscription("gateway", "tenant.*.actes.>");
    await refusedPublish("gateway", "platform.sesf.tenants.enable");
    await refusedPublish("gateway", "prefecture.actes.t-rennes.submit");
    await refusedSubscription("gateway", "_INBOX.actes.>");
  });

  it("when actes is subverted, then it reaches the prefecture and its own flows, but cannot forge returns, enable tenants, delete a stream or read the prefecture's archives", async () => {
    await refusedPublish("actes", "prefecture.actes.t-rennes.returns.act-1");
    await refusedPublish("actes", "platform.sesf.tenants.enable");
    await refusedPublish("actes", "$JS.API.STREAM.DELETE.ACTES_TRANSMISSIONS");
    await refusedPublish("actes", "events.t-rennes.sesf.share_created");
    await refusedSubscription("actes", "tenant.*.sesf.>");
    // Its own files, not the archives the prefecture keeps; nor may it delete its files' stream.
    await refusedPublish("actes", "$JS.API.STREAM.MSG.GET.OBJ_PREFECTURE_ARCHIVES");
    await refusedPublish("actes", "$O.PREFECTURE_ARCHIVES.C.any");
    await refusedPublish("actes", "$JS.API.STREAM.DELETE.OBJ_ACTES_FILES");
  });

  it("when the prefecture simulator is subverted, then it cannot queue a transmission, call a service or read the collectivities' files", async () => {
    await refusedPublish("prefecture-simulator", "actes.transmit.t-rennes");
    await refusedPublish("prefecture-simulator", "tenant.t-rennes.actes.list");
    // It reads the archives it was given, not the collectivities' files.
    await refusedPublish("prefecture-simulator", "$JS.API.STREAM.MSG.GET.OBJ_ACTES_FILES");
    await refusedPublish("prefecture-simulator", "$O.ACTES_FILES.C.any");
  });

  it("when a service uses what it needs, then the server lets it: a request served, and the reply on the caller's own inbox", async () => {
    const { nc: sesf, violations } = await as("sesf");
    const served = sesf.subscribe("tenant.*.sesf.shares.list", { callback: (_e, m) => void m.respond("[]") });
    await sesf.flush();
    const { nc: gateway } = await as("gateway");
    const reply = await gateway.request("tenant.t-rennes.sesf.shares.list", "{}", { timeout: 5000 });
    expect(reply.string()).toBe("[]");
    served.unsubscribe();
    expect(violations).toEqual([]);
  });
});
