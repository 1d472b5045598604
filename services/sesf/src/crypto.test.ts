import { createHash, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { DecryptStream, EncryptStream, IntegrityError, segmentBytes, tenantKey, unwrapKey, wrapKey } from "./crypto.ts";

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const key = randomBytes(32);
const encrypt = (plain: Buffer) => collect(Readable.from([plain]).pipe(new EncryptStream(key, "file-1")));
const decrypt = (sealed: Buffer, fileId = "file-1") => collect(Readable.from([sealed]).pipe(new DecryptStream(key, fileId)));

describe("segmented encryption", () => {
  it.each([0, 1, segmentBytes - 1, segmentBytes, segmentBytes + 1, 3 * segmentBytes + 17])("when %i bytes are encrypted and decrypted, then the same bytes come back", async (size) => {
    const plain = randomBytes(size);
    const sealed = await encrypt(plain);
    expect(sealed.length).toBe(size + Math.max(1, Math.ceil(size / segmentBytes)) * 20);
    expect((await decrypt(sealed)).equals(plain)).toBe(true);
  });

  it("when one byte of the ciphertext changes, a segment is dropped or the file is cut, then decryption fails and nothing of that segment comes out", async () => {
    const plain = randomBytes(2 * segmentBytes + 5);
    const sealed = await encrypt(plain);
    const flipped = Buffer.from(sealed);
    flipped[segmentBytes + 100]! ^= 1;
    await expect(decrypt(flipped)).rejects.toThrow(IntegrityError);
    const withoutLast = sealed.subarray(0, 2 * (segmentBytes + 20));
    await expect(decrypt(withoutLast)).rejects.toThrow(/last segment does not verify/);
    await expect(decrypt(sealed.subarray(0, sealed.length - 3))).rejects.toThrow(/truncated/);
    await expect(decrypt(sealed, "file-2")).rejects.toThrow(IntegrityError);
  });

  it("when a large stream goes through, then the output hashes as the input, segment by segment", async () => {
    const hash = (h: ReturnType<typeof createHash>) => h.digest("hex");
    const input = createHash("sha256");
    const output = createHash("sha256");
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 40; i++) {
          const block = randomBytes(256 * 1024 + 7);
          input.update(block);
          yield block;
        }
      })(),
    );
    await pipeline(source, new EncryptStream(key, "big"), new DecryptStream(key, "big"), new Writable({
      write(chunk: Buffer, _encoding, done) {
        output.update(chunk);
        done();
      },
    }));
    expect(hash(output)).toBe(hash(input));
  });
});

describe("keys and passwords", () => {
  it("when a share's key is wrapped for one collectivity, then only that collectivity's key unwraps it", () => {
    const master = randomBytes(32);
    const dataKey = randomBytes(32);
    const wrapped = wrapKey(tenantKey(master, "rennes"), dataKey, "share-1");
    expect(unwrapKey(tenantKey(master, "rennes"), wrapped, "share-1").equals(dataKey)).toBe(true);
    expect(() => unwrapKey(tenantKey(master, "brest"), wrapped, "share-1")).toThrow(IntegrityError);
    expect(() => unwrapKey(tenantKey(master, "rennes"), wrapped, "share-2")).toThrow(IntegrityError);
  });
});
