import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ArchiveError, readArchive, streamArchive, writeArchive } from "./archive.ts";

const files = [
  { name: "EACT--213502388--20261128-1.xml", content: Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><a>d\xe9lib\xe9ration</a>', "latin1") },
  { name: "035-213502388-20261128-D2026_001-DE-1-1_0.xml", content: Buffer.from("<acte/>") },
  { name: "99_DE-035-213502388-20261128-D2026_001-DE-1-1_1.pdf", content: Buffer.alloc(1500, 7) },
];

/** A file given in pieces, as the object store gives it. */
function inPieces(name: string, content: Buffer, piece: number, announced = content.length) {
  return {
    name,
    size: announced,
    async *read() {
      for (let i = 0; i < content.length; i += piece) yield content.subarray(i, i + piece);
    },
  };
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

describe("the @ctes archive", () => {
  it("when it is made as its files are read, then GNU tar extracts the same files as from the archive made in memory", async () => {
    const large = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < large.length; i++) large[i] = (i * 31) % 251;
    const streamed = await collect(streamArchive([files[0]!, files[1]!, inPieces("99_AU-035-213502388-20261128-D2026_001-DE-1-1_2.pdf", large, 65_536 + 3)]));
    const dir = mkdtempSync(join(tmpdir(), "actes-archive-"));
    writeFileSync(join(dir, "s.tar.gz"), streamed);
    execFileSync("tar", ["-xzf", join(dir, "s.tar.gz"), "-C", dir]);
    expect(readFileSync(join(dir, "99_AU-035-213502388-20261128-D2026_001-DE-1-1_2.pdf")).equals(large)).toBe(true);
    expect(readArchive(streamed, 8 << 20).map((f) => f.name)).toEqual([files[0]!.name, files[1]!.name, "99_AU-035-213502388-20261128-D2026_001-DE-1-1_2.pdf"]);
  });

  it("when a file read as the archive is made gives other than its announced size, then the archive fails", async () => {
    await expect(collect(streamArchive([inPieces("99_AU-x_1.pdf", Buffer.alloc(1000), 100, 2000)]))).rejects.toThrow("gave 1000 bytes where 2000 were announced");
    await expect(collect(streamArchive([inPieces("99_AU-x_1.pdf", Buffer.alloc(3000), 100, 2000)]))).rejects.toThrow("where 2000 were announced");
  });

  it("when it is written, then GNU tar lists and extracts the same files, byte for byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "actes-archive-"));
    writeFileSync(join(dir, "a.tar.gz"), writeArchive(files));
    expect(execFileSync("tar", ["-tzf", join(dir, "a.tar.gz")], { encoding: "utf8" }).trim().split("\n")).toEqual(files.map((f) => f.name));
    execFileSync("tar", ["-xzf", join(dir, "a.tar.gz"), "-C", dir]);
    for (const file of files) expect(readFileSync(join(dir, file.name)).equals(file.content)).toBe(true);
  });

  it("when GNU tar made it, then it is read back with the same files", () => {
    const dir = mkdtempSync(join(tmpdir(), "actes-archive-"));
    for (const file of files) writeFileSync(join(dir, file.name), file.content);
    execFileSync("tar", ["-czf", join(dir, "b.tar.gz"), "-C", dir, ...files.map((f) => f.name)]);
    const read = readArchive(readFileSync(join(dir, "b.tar.gz")), 1 << 20);
    expect(read.map((f) => f.name)).toEqual(files.map((f) => f.name));
    expect(read.map((f) => Buffer.from(f.content).equals(files.find((g) => g.name === f.name)!.content))).toEqual([true, true, true]);
  });

  it("when a name would leave the archive's folder or repeats, then it is neither written nor read", () => {
    expect(() => writeArchive([{ name: "../etc/passwd", content: Buffer.alloc(1) }])).toThrow(/cannot be the name/);
    expect(() => writeArchive([files[0]!, files[0]!])).toThrow(/two files named/);
    const dir = mkdtempSync(join(tmpdir(), "actes-archive-"));
    execFileSync("mkdir", [join(dir, "sub")]);
    writeFileSync(join(dir, "sub", "x.pdf"), "x");
    execFileSync("tar", ["-czf", join(dir, "c.tar.gz"), "-C", dir, "sub/x.pdf"]);
    expect(() => readArchive(readFileSync(join(dir, "c.tar.gz")), 1 << 20)).toThrow('a file named "sub/x.pdf"');
  });

  it("when it is not gzip, is damaged, or holds more than allowed, then reading it says so", () => {
    expect(() => readArchive(Buffer.from("not an archive"), 1 << 20)).toThrow(new ArchiveError("the archive is not a gzip-compressed file"));
    const damaged = Buffer.from(gzipSync(Buffer.concat([Buffer.alloc(100, 65), Buffer.alloc(924)])));
    expect(() => readArchive(damaged, 1 << 20)).toThrow(/damaged \(checksum\)/);
    // 64 MiB of zeros compress to 64 KiB: the limit is on what comes out, not what goes in.
    expect(() => readArchive(writeArchive([{ name: "big.pdf", content: Buffer.alloc(64 << 20) }]), 1 << 20)).toThrow(/holds more than 1048576 bytes/);
  });
});
