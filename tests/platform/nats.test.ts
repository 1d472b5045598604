import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAccount,
  ensureOperatorIdentity,
  layout,
  pushAccountJwt,
  restart,
  signAccount,
  userCreds,
  type KeyPair,
} from "@mutualis/local-platform";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const opened: NatsConnection[] = [];

async function connectAs(creds: Uint8Array, name: string): Promise<NatsConnection> {
  const nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(creds), name });
  opened.push(nc);
  return nc;
}

/** Collects what a subscription receives for a short while. */
async function received(nc: NatsConnection, subject: string, act: () => Promise<void>): Promise<string[]> {
  const messages: string[] = [];
  const sub = nc.subscribe(subject, { callback: (_err, msg) => {
      messages.push(msg.string());
    } });
  await nc.flush();
  await act();
  await new Promise((r) => setTimeout(r, 500));
  sub.unsubscribe();
  return messages;
}

describe("NATS in operator mode", () => {
  let tenantA: KeyPair;
  let tenantB: KeyPair;

  beforeAll(async () => {
    const identity = await ensureOperatorIdentity(layout(platform.config).nats);
    const system = await platform.systemNats();
    opened.push(system);
    tenantA = createAccount();
    tenantB = createAccount();
    await pushAccountJwt(system, await signAccount(identity, "tenant-a", tenantA));
    await pushAccountJwt(system, await signAccount(identity, "tenant-b", tenantB));
  });

  afterAll(async () => {
    await Promise.all(opened.map((nc) => nc.close().catch(() => undefined)));
  });

  it("when accounts are pushed at run time, then their users connect and talk inside their own account only", async () => {
    const alice = await connectAs(await userCreds("alice", tenantA), "alice");
    const aliceColleague = await connectAs(await userCreds("colleague", tenantA), "colleague");
    const bob = await connectAs(await userCreds("bob", tenantB), "bob");

    let bobSaw: string[] = [];
    const colleagueSaw = await received(aliceColleague, "tenant.a.>", async () => {
      bobSaw = await received(bob, ">", async () => {
        alice.publish("tenant.a.actes.sent", "acte 2026-001");
        await alice.flush();
      });
    });

    expect(colleagueSaw).toEqual(["acte 2026-001"]);
    expect(bobSaw).toEqual([]);
  });

  it("when a user's permissions allow only its prefix, then the server refuses other subjects", async () => {
    const creds = await userCreds("restricted", tenantA, {
      pub: { allow: ["tenant.a.>"] },
      sub: { allow: ["tenant.a.>", "_INBOX.>"] },
    });
    const restricted = await connectAs(creds, "restricted");
    const errors: string[] = [];
    (async () => {
      for await (const s of restricted.status()) if (s.type === "error") errors.push(String(s.error));
    })();
    restricted.publish("tenant.b.secrets", "nope");
    await restricted.flush().catch(() => undefined);
    await eventually("a permissions violation", async () => (errors.some((e) => /permission/i.test(e)) ? true : undefined), 10_000);
  });

  it("when nats-server restarts, then a JetStream stream keeps its message and pushed accounts are still known", async () => {
    const creds = await userCreds("writer", tenantA);
    const writer = await connectAs(creds, "writer");
    const manager = await jetstreamManager(writer);
    await manager.streams.add({ name: "ACTES", subjects: ["tenant.a.actes.>"], storage: StorageType.File });
    await jetstream(writer).publish("tenant.a.actes.transmitted", JSON.stringify({ id: "035-213502388-20261128-D2026_001-DE" }));
    await writer.close();

    await restart(platform.config, "nats");

    const reader = await eventually("a connection after the restart", () => connectAs(creds, "reader"), 30_000);
    const stream = await (await jetstreamManager(reader)).streams.get("ACTES");
    const info = await stream.info();
    expect(info.state.messages).toBe(1);
    const message = await stream.getMessage({ seq: 1 });
    expect(message?.json()).toEqual({ id: "035-213502388-20261128-D2026_001-DE" });
  });
});
