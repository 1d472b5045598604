import { pipeline, Readable } from "node:stream";
import { createGzip, gunzipSync, gzipSync } from "node:zlib";

/** A file in a flat archive: its name (no directory) and its bytes. */
export interface ArchivedFile {
  readonly name: string;
  readonly content: Uint8Array;
}

/** A file too large to hold in memory: its name, its size, and its bytes read as they are needed. */
export interface StreamedFile {
  readonly name: string;
  readonly size: number;
  read(): AsyncIterable<Uint8Array>;
}

export type ArchiveEntry = ArchivedFile | StreamedFile;

const block = 512;
const namePattern = /^[0-9A-Za-z_][0-9A-Za-z_.-]{0,99}$/;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** One POSIX ustar header: a regular file, owned by no one, readable by all. */
function header(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(block);
  h.write(name, 0, 100, "ascii");
  h.write(octal(0o644, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write("0", 156, "ascii");
  h.write("ustar\0" + "00", 257, "ascii");
  const sum = h.reduce((total, byte) => total + byte, 0);
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return h;
}

/** Checks that the names can go in a flat archive: plain, each once. */
function checkNames(files: readonly { readonly name: string }[]): void {
  const seen = new Set<string>();
  for (const file of files) {
    if (!namePattern.test(file.name)) throw new Error(`"${file.name}" cannot be the name of a file in a flat archive`);
    if (seen.has(file.name)) throw new Error(`the archive would hold two files named ${file.name}`);
    seen.add(file.name);
  }
}

const paddingOf = (size: number) => Buffer.alloc((block - (size % block)) % block);
const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * A flat tar.gz — what @ctes exchanges, and the parapheur's evidence bundles: the files in the
 * order given, no directories, as a POSIX ustar archive compressed with gzip, which `tar` reads.
 */
export function writeArchive(files: readonly ArchivedFile[], at = new Date()): Buffer {
  checkNames(files);
  const mtime = Math.floor(at.getTime() / 1000);
  const parts = files.flatMap((file) => [header(file.name, file.content.length, mtime), asBuffer(file.content), paddingOf(file.content.length)]);
  return gzipSync(Buffer.concat([...parts, Buffer.alloc(2 * block)]));
}

/**
 * The same archive, made as it is read: the files' bytes pass through once, never all in memory,
 * whatever their size. A streamed file that yields other than its announced size fails the archive.
 */
export function streamArchive(files: readonly ArchiveEntry[], at = new Date()): AsyncIterable<Uint8Array> {
  checkNames(files);
  const mtime = Math.floor(at.getTime() / 1000);
  async function* tar(): AsyncGenerator<Buffer> {
    for (const file of files) {
      if ("content" in file) {
        yield header(file.name, file.content.length, mtime);
        yield asBuffer(file.content);
        yield paddingOf(file.content.length);
        continue;
      }
      yield header(file.name, file.size, mtime);
      let read = 0;
      for await (const chunk of file.read()) {
        read += chunk.length;
        if (read > file.size) break;
        yield asBuffer(chunk);
      }
      if (read !== file.size) throw new Error(`${file.name} gave ${read} bytes where ${file.size} were announced`);
      yield paddingOf(file.size);
    }
    yield Buffer.alloc(2 * block);
  }
  // Level 1: the files are mostly PDFs, already compressed; the XML still shrinks well.
  const gzip = createGzip({ level: 1 });
  // A failing file destroys the gzip stream with its error, which its reader then gets.
  pipeline(Readable.from(tar()), gzip, () => undefined);
  return gzip;
}

/** Why an archive cannot be read, in words fit for the anomaly sent back. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
}

/**
 * The files of a flat archive (@ctes's). Refuses what @ctes would not send: anything but flat regular
 * files, a name twice, a damaged header, and more than `maxBytes` once uncompressed.
 */
export function readArchive(archive: Uint8Array, maxBytes: number): ArchivedFile[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive, { maxOutputLength: maxBytes + 64 * block });
  } catch (error) {
    throw new ArchiveError(
      (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? `the archive holds more than ${maxBytes} bytes` : "the archive is not a gzip-compressed file",
    );
  }
  const files: ArchivedFile[] = [];
  const names = new Set<string>();
  for (let offset = 0; offset + block <= tar.length; ) {
    const h = tar.subarray(offset, offset + block);
    if (h.every((byte) => byte === 0)) return files;
    const stored = parseInt(h.toString("ascii", 148, 156).replace(/\0.*$/, "").trim(), 8);
    const sum = h.reduce((total, byte, i) => total + (i >= 148 && i < 156 ? 0x20 : byte), 0);
    if (stored !== sum) throw new ArchiveError(`the archive's header at byte ${offset} is damaged (checksum)`);
    const prefix = h.toString("ascii", 345, 500).replace(/\0.*$/s, "");
    const name = (prefix ? `${prefix}/` : "") + h.toString("ascii", 0, 100).replace(/\0.*$/s, "");
    const type = String.fromCharCode(h[156]!);
    if (type !== "0" && type !== "\0") throw new ArchiveError(`the archive holds ${name}, which is not a regular file`);
    if (!namePattern.test(name)) throw new ArchiveError(`the archive holds a file named "${name}": the archive must be flat, with plain names`);
    if (names.has(name)) throw new ArchiveError(`the archive holds two files named ${name}`);
    names.add(name);
    const size = parseInt(h.toString("ascii", 124, 136).replace(/\0.*$/, "").trim(), 8);
    if (!Number.isSafeInteger(size) || offset + block + size > tar.length) throw new ArchiveError(`the archive ends inside ${name}`);
    files.push({ name, content: tar.subarray(offset + block, offset + block + size) });
    offset += block + Math.ceil(size / block) * block;
  }
  throw new ArchiveError("the archive ends without its end-of-archive blocks");
}
