/**
 * The few commands the operator sends FerretDB, over MongoDB's wire protocol (OP_MSG), on one
 * connection of its own.
 *
 * The operator makes and drops databases, nothing else; the MongoDB driver, made for
 * applications, would keep a pool, a topology monitor with its heartbeats and its own buffers
 * for that: about 16 MiB of a process that must stay small with 1,500 tenants. This speaks the
 * documented protocol directly (a header, flags, one BSON document per message), with the
 * driver's own BSON library, and authenticates with SASL PLAIN, which FerretDB on PostgreSQL
 * takes over TLS.
 */
import { readFileSync } from "node:fs";
import { connect as connectTcp, isIP, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { Binary, deserialize, serialize, type Document } from "bson";

/** OP_MSG, the only message modern servers take. */
const opMsg = 2013;
const headerLength = 16;
/** A reply larger than this is not one of ours: refused rather than buffered. */
const maxReply = 16 * 1024 * 1024;

export class WireError extends Error {
  override name = "WireError";
  constructor(
    message: string,
    readonly code?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Where and how to connect, read from a `mongodb://` address. */
export interface WireAddress {
  readonly host: string;
  readonly port: number;
  readonly user?: string;
  readonly password?: string;
  readonly tls: boolean;
  /** The CA that signed the server's certificate, when it is a private one. */
  readonly ca?: string;
}

/**
 * Reads the address the platform gives the operator: one server (FerretDB behind its Service),
 * user and password authenticated with PLAIN. What this client cannot honour is refused here,
 * with the reason, rather than ignored.
 */
export function parseWireAddress(uri: string): WireAddress {
  if (/^mongodb:\/\/(?:[^@/?]*@)?[^/?]*,/.test(uri)) {
    throw new WireError("the database address names several servers: the operator connects to one (FerretDB's Service)");
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new WireError("the database address is not a URL");
  }
  if (url.protocol !== "mongodb:") throw new WireError(`the database address must be mongodb://, not ${url.protocol}//`);
  const params = url.searchParams;
  const mechanism = params.get("authMechanism");
  if (url.username && mechanism !== null && mechanism !== "PLAIN") {
    throw new WireError(`the operator authenticates with PLAIN, not ${mechanism}`);
  }
  const tls = params.get("tls") === "true" || params.get("ssl") === "true";
  const caFile = params.get("tlsCAFile");
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port ? Number(url.port) : 27017,
    ...(url.username ? { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : {}),
    tls,
    ...(caFile ? { ca: readFileSync(caFile, "utf8") } : {}),
  };
}

/** One OP_MSG: the header, no flags, and the command as a single body section. */
export function encodeMessage(requestId: number, command: Document): Buffer {
  const body = serialize(command);
  const message = Buffer.alloc(headerLength + 4 + 1 + body.length);
  message.writeInt32LE(message.length, 0);
  message.writeInt32LE(requestId, 4);
  message.writeInt32LE(0, 8);
  message.writeInt32LE(opMsg, 12);
  message.writeUInt32LE(0, 16);
  message.writeUInt8(0, 20);
  message.set(body, 21);
  return message;
}

/** The reply's body section, and which request it answers. */
export function decodeMessage(message: Buffer): { responseTo: number; reply: Document } {
  const opCode = message.readInt32LE(12);
  if (opCode !== opMsg) throw new WireError(`the database answered with operation ${opCode}, not OP_MSG`);
  if (message.readUInt8(20) !== 0) throw new WireError("the database's reply does not begin with a body section");
  const length = message.readInt32LE(21);
  return { responseTo: message.readInt32LE(8), reply: deserialize(message.subarray(21, 21 + length)) };
}

/** A reply that says the command failed, as an error that carries the server's code. */
function failure(reply: Document): WireError | undefined {
  if (reply.ok !== 1) return new WireError(String(reply.errmsg ?? "the command failed"), typeof reply.code === "number" ? reply.code : undefined);
  const writeError = (reply.writeErrors as Document[] | undefined)?.[0];
  if (writeError) return new WireError(String(writeError.errmsg), typeof writeError.code === "number" ? writeError.code : undefined);
  return undefined;
}

interface Pending {
  readonly requestId: number;
  readonly resolve: (reply: Document) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A connection to FerretDB that sends one command at a time (the operator's database work is a
 * few commands per tenant), opened on first use and again after it is lost. Every command it
 * sends is idempotent, so one lost on a connection the server closed is sent once more.
 */
export class WireClient {
  private socket: Socket | undefined;
  private opening: Promise<Socket> | undefined;
  private pending: Pending | undefined;
  private received: Buffer = Buffer.alloc(0);
  private nextRequestId = 1;
  /** Commands wait here for the one before them. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly address: WireAddress,
    private readonly options: { readonly timeoutMs?: number; readonly appName?: string } = {},
  ) {}

  /** Runs `command` on database `db` and returns the server's reply; a failure is a WireError. */
  command(db: string, command: Document): Promise<Document> {
    const run = this.queue.then(() => this.send({ ...command, $db: db }, true));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async send(command: Document, retry: boolean): Promise<Document> {
    const fresh = !this.socket;
    const socket = await this.open();
    try {
      return await this.exchange(socket, command);
    } catch (error) {
      // A connection the server had closed while idle: once more on a new one.
      if (retry && !fresh && !(error instanceof WireError && error.code !== undefined)) {
        this.drop(socket);
        return this.send(command, false);
      }
      throw error;
    }
  }

  private exchange(socket: Socket, command: Document): Promise<Document> {
    const requestId = this.nextRequestId++;
    return new Promise<Document>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.drop(socket, new WireError(`the database did not answer within ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      this.pending = {
        requestId,
        resolve: (reply) => {
          clearTimeout(timer);
          const error = failure(reply);
          if (error) reject(error);
          else resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      socket.write(encodeMessage(requestId, command));
    });
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? 10_000;
  }

  private open(): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.opening ??= this.connect().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async connect(): Promise<Socket> {
    const { host, port, tls, ca } = this.address;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const onError = (error: Error) => reject(new WireError(`cannot reach the database at ${host}:${port}: ${error.message}`, undefined, { cause: error }));
      const connected = tls ? connectTls({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(ca ? { ca } : {}) }) : connectTcp({ host, port });
      connected.once(tls ? "secureConnect" : "connect", () => {
        connected.off("error", onError);
        resolve(connected);
      });
      connected.once("error", onError);
      connected.setTimeout(this.timeoutMs, () => connected.destroy(new Error("timed out")));
    });
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(socket, chunk));
    socket.on("error", () => undefined); // "close" follows and says it
    socket.on("close", () => this.drop(socket, new WireError("the database closed the connection")));
    this.socket = socket;
    this.received = Buffer.alloc(0);
    try {
      await this.exchange(socket, { hello: 1, client: { application: { name: this.options.appName ?? "mutualis-operator" } }, $db: "admin" });
      if (this.address.user !== undefined) await this.authenticate(socket);
    } catch (error) {
      this.drop(socket);
      throw error;
    }
    return socket;
  }

  /** SASL PLAIN (RFC 4616) in one step; over TLS only, where the password is not readable. */
  private async authenticate(socket: Socket): Promise<void> {
    const payload = new Binary(Buffer.from(`\0${this.address.user}\0${this.address.password ?? ""}`, "utf8"));
    try {
      const reply = await this.exchange(socket, { saslStart: 1, mechanism: "PLAIN", payload, autoAuthorize: 1, $db: "$external" });
      if (reply.done !== true) throw new WireError("the database did not complete PLAIN authentication");
    } catch (error) {
      // The server's message is about the user, never the password; the payload is not in it.
      throw new WireError(`the database refused the operator's credentials: ${(error as Error).message}`, (error as WireError).code, { cause: error });
    }
  }

  private onData(socket: Socket, chunk: Buffer): void {
    this.received = this.received.length ? Buffer.concat([this.received, chunk]) : chunk;
    while (this.received.length >= 4) {
      const length = this.received.readInt32LE(0);
      if (length < headerLength + 5 || length > maxReply) {
        this.drop(socket, new WireError(`the database sent a message of ${length} bytes, which is not a reply`));
        return;
      }
      if (this.received.length < length) return;
      const message = this.received.subarray(0, length);
      this.received = this.received.subarray(length);
      const pending = this.pending;
      try {
        const { responseTo, reply } = decodeMessage(message);
        if (!pending || responseTo !== pending.requestId) throw new WireError(`the database answered request ${responseTo}, which was not asked`);
        this.pending = undefined;
        pending.resolve(reply);
      } catch (error) {
        this.drop(socket, error as Error);
        return;
      }
    }
  }

  /** Forgets a connection, failing the command that waits on it. */
  private drop(socket: Socket, error: Error = new WireError("the connection was closed")): void {
    if (this.socket === socket) {
      this.socket = undefined;
      this.received = Buffer.alloc(0);
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(error);
    }
    socket.destroy();
  }

  async close(): Promise<void> {
    await this.queue;
    if (this.socket) this.drop(this.socket);
  }
}
