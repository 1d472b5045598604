import { createServer, connect as connectTcp, type Server, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { parseWireAddress, WireClient } from "@mutualis/operator";
import { testPlatform } from "../support/platform.ts";

/**
 * The operator's own FerretDB client (OP_MSG, SASL PLAIN over TLS) against the platform's
 * FerretDB on PostgreSQL: what it sends is answered, a refused password is said without the
 * password, and a connection lost while idle is replaced without the caller seeing it.
 */
const platform = testPlatform();
const clients: WireClient[] = [];
const servers: Server[] = [];

function client(uri: string, options: { timeoutMs?: number; maxConnections?: number } = {}): WireClient {
  const wire = new WireClient(parseWireAddress(uri), options);
  clients.push(wire);
  return wire;
}

/** A TCP relay to FerretDB whose connections the test may cut, as a restart or an idle timeout would. */
async function relay(): Promise<{ port: number; cut: () => void; connections: () => number }> {
  const { port: target } = new URL(platform.env.MONGODB_URI);
  const open = new Set<Socket>();
  let count = 0;
  const server = createServer((inbound) => {
    count++;
    const outbound = connectTcp(Number(target), "127.0.0.1");
    for (const [a, b] of [[inbound, outbound], [outbound, inbound]] as const) {
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => b.destroy());
      open.add(a);
      a.on("close", () => open.delete(a));
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { port, cut: () => open.forEach((s) => s.destroy()), connections: () => count };
}

describe("the operator's FerretDB client", () => {
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    servers.forEach((s) => s.close());
  });

  it("when it authenticates as the platform's administrator, then its commands are answered", async () => {
    const wire = client(platform.env.MONGODB_URI);
    const reply = await wire.command("admin", { listDatabases: 1, nameOnly: true });
    expect(reply.ok).toBe(1);
    expect(Array.isArray(reply.databases)).toBe(true);
  });

  it("when its password is wrong, then its commands fail saying the password was refused, and never show the password", async () => {
    const url = new URL(platform.env.MONGODB_URI);
    url.password = "not-the-password-4f2a";
    const error = await client(url.toString())
      .command("admin", { listDatabases: 1 })
      .then(() => undefined, (e: Error) => e);
    // FerretDB takes PLAIN's password to PostgreSQL on the first command, which refuses it.
    expect(error?.message).toMatch(/refused the operator's credentials|password authentication failed/);
    expect(error?.message).not.toContain("not-the-password-4f2a");
  });

  it("when it speaks without TLS to a server that requires it, then it fails with a clear error rather than hanging", async () => {
    const url = new URL(platform.env.MONGODB_URI);
    url.searchParams.delete("tls");
    const error = await client(url.toString(), { timeoutMs: 5000 })
      .command("admin", { listDatabases: 1 })
      .then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/closed the connection|did not answer|cannot reach/);
  });

  it("when its connection is cut while idle, then the next command runs on a new one", async () => {
    const through = await relay();
    const url = new URL(platform.env.MONGODB_URI);
    url.port = String(through.port);
    const wire = client(url.toString());
    expect((await wire.command("admin", { listDatabases: 1, nameOnly: true })).ok).toBe(1);
    through.cut();
    await new Promise((r) => setTimeout(r, 100));
    expect((await wire.command("admin", { listDatabases: 1, nameOnly: true })).ok).toBe(1);
    expect(through.connections()).toBe(2);
  });

  it("when reconciles ask at once, then their commands run side by side on a few connections, never more than allowed", async () => {
    const through = await relay();
    const url = new URL(platform.env.MONGODB_URI);
    url.port = String(through.port);
    const wire = client(url.toString(), { maxConnections: 2 });
    const replies = await Promise.all(Array.from({ length: 6 }, () => wire.command("admin", { listDatabases: 1, nameOnly: true })));
    expect(replies.every((r) => r.ok === 1)).toBe(true);
    expect(through.connections()).toBe(2);
  });
});
