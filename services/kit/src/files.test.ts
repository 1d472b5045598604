import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chunkBytes, sendInChunks } from "./files.ts";

describe("sending in chunks", () => {
  it("when a stream comes in pieces of any size, then it is sent in chunks of exactly 1 MiB, the last shorter, measured and hashed", async () => {
    const content = Buffer.alloc(2 * chunkBytes + 12_345);
    for (let i = 0; i < content.length; i++) content[i] = i % 253;
    async function* pieces() {
      for (let i = 0; i < content.length; i += 70_001) yield content.subarray(i, i + 70_001);
    }
    const sent: Buffer[] = [];
    const object = await sendInChunks(pieces(), "id", async (chunk, index) => {
      expect(index).toBe(sent.length);
      sent.push(Buffer.from(chunk));
    });
    expect(sent.map((c) => c.length)).toEqual([chunkBytes, chunkBytes, 12_345]);
    expect(Buffer.concat(sent).equals(content)).toBe(true);
    expect(object).toEqual({ nuid: "id", size: content.length, chunks: 3, sha256: createHash("sha256").update(content).digest("hex") });
  });

  it("when the stream is empty, then nothing is sent", async () => {
    const object = await sendInChunks((async function* () {})(), "id", async () => {
      throw new Error("nothing to send");
    });
    expect(object).toMatchObject({ size: 0, chunks: 0 });
  });
});
