import { createConnection, type Socket } from "node:net";
import { Transform, type TransformCallback } from "node:stream";

export type ScanResult = { state: "clean" } | { state: "infected"; signature: string } | { state: "failed"; reason: string };

/**
 * Passes a stream through unchanged while ClamAV's daemon scans it (INSTREAM over TCP): each chunk
 * goes to clamd too, with clamd's back-pressure respected, and `result` tells, once the stream
 * ended, whether it was clean. A daemon that cannot be reached or fails makes the scan "failed",
 * never "clean".
 */
export class ClamdScan extends Transform {
  private readonly socket: Socket;
  private reply = "";
  private failure: string | undefined;
  readonly result: Promise<ScanResult>;

  constructor(address: string) {
    super();
    const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
    this.socket = createConnection({ host, port });
    this.socket.setTimeout(120_000, () => this.socket.destroy(new Error("clamd did not answer in time")));
    this.socket.on("data", (chunk: Buffer) => (this.reply += chunk.toString("utf8")));
    this.socket.on("error", (error) => (this.failure ??= error.message));
    this.socket.write("zINSTREAM\0");
    this.result = new Promise((resolve) => {
      this.socket.on("close", () => {
        const reply = this.reply.replace(/\0/g, "").trim();
        if (/^stream: OK$/.test(reply)) resolve({ state: "clean" });
        else if (/ FOUND$/.test(reply)) resolve({ state: "infected", signature: reply.replace(/^stream: /, "").replace(/ FOUND$/, "") });
        else resolve({ state: "failed", reason: this.failure ?? (reply || "clamd closed the connection without a verdict") });
      });
    });
  }

  private send(data: Buffer, done: () => void): void {
    if (this.socket.destroyed) return done();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(data.length);
    this.socket.write(header);
    if (this.socket.write(data)) done();
    else this.socket.once("drain", done);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.send(chunk, () => done(null, chunk));
  }

  override _flush(done: TransformCallback): void {
    if (!this.socket.destroyed) this.socket.end(Buffer.alloc(4));
    done();
  }

  /** Closes the connection when the upload failed for another reason. */
  abandon(): void {
    this.socket.destroy();
  }
}
