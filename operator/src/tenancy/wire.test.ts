import { deserialize, serialize } from "bson";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage, parseWireAddress, WireError } from "./wire.ts";

describe("OP_MSG framing", () => {
  it("writes the header, no flags and one body section", () => {
    const message = encodeMessage(7, { ping: 1, $db: "admin" });
    expect(message.readInt32LE(0)).toBe(message.length);
    expect(message.readInt32LE(4)).toBe(7);
    expect(message.readInt32LE(8)).toBe(0);
    expect(message.readInt32LE(12)).toBe(2013);
    expect(message.readUInt32LE(16)).toBe(0);
    expect(message.readUInt8(20)).toBe(0);
    expect(deserialize(message.subarray(21))).toEqual({ ping: 1, $db: "admin" });
  });

  it("reads a reply and the request it answers", () => {
    const body = serialize({ ok: 1, n: 1 });
    const reply = Buffer.alloc(21 + body.length);
    reply.writeInt32LE(reply.length, 0);
    reply.writeInt32LE(99, 4);
    reply.writeInt32LE(7, 8);
    reply.writeInt32LE(2013, 12);
    reply.set(body, 21);
    expect(decodeMessage(reply)).toEqual({ responseTo: 7, reply: { ok: 1, n: 1 } });
  });

  it("refuses a reply in a legacy operation", () => {
    const reply = encodeMessage(1, { ok: 1 });
    reply.writeInt32LE(1, 12); // OP_REPLY
    expect(() => decodeMessage(reply)).toThrow(/operation 1, not OP_MSG/);
  });
});

describe("the database address", () => {
  it("reads server, credentials and TLS", () => {
    expect(parseWireAddress("mongodb://mutualis%40admin:p%2Fss@ferretdb.mutualis-system.svc:27018/?tls=true&authMechanism=PLAIN&authSource=$external")).toEqual({
      host: "ferretdb.mutualis-system.svc",
      port: 27018,
      user: "mutualis@admin",
      password: "p/ss",
      tls: true,
    });
    expect(parseWireAddress("mongodb://[::1]/")).toEqual({ host: "::1", port: 27017, tls: false });
  });

  it.each([
    ["postgres://x/", /must be mongodb:\/\//],
    ["mongodb+srv://u:p@cluster.example/", /must be mongodb:\/\//],
    ["mongodb://a:27017,b:27017/", /several servers/],
    ["mongodb://u:p@h/?authMechanism=SCRAM-SHA-256", /PLAIN, not SCRAM-SHA-256/],
    ["not a url", /not a URL/],
  ])("refuses %s, saying why", (uri, message) => {
    expect(() => parseWireAddress(uri)).toThrow(WireError);
    expect(() => parseWireAddress(uri)).toThrow(message);
  });

  it("never repeats the password in its errors", () => {
    let error: unknown;
    try {
      parseWireAddress("mongodb://u:s3cret-value@a,b/");
    } catch (caught) {
      error = caught;
    }
    expect(String((error as Error).message)).not.toContain("s3cret-value");
  });
});
