/**
 * The few commands the operator sends FerretDB, over MongoDB's wire protocol (OP_MSG), on a few
 * connections of its own.
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

interface ClientOptions {
  readonly timeoutMs?: number;
  readonly appName?: string;
  /** Commands at once, each on its own connection: FerretDB runs one connection's in turn. */
  readonly maxConnections?: number;
}

let nextRequestId = 1;

/** One connection, authenticated, carrying one command at a time. */
class WireConnection {
  private pending: Pending | undefined;
  private received: Buffer = Buffer.alloc(0);
  closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => undefined); // "close" follows and says it
    socket.on("close", () => this.close(new WireError("the database closed the connection")));
  }

  static async open(address: WireAddress, options: ClientOptions, timeoutMs: number): Promise<WireConnection> {
    const { host, port, tls, ca } = address;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const onError = (error: Error) => reject(new WireError(`cannot reach the database at ${host}:${port}: ${error.message}`, undefined, { cause: error }));
      const connected = tls ? connectTls({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(ca ? { ca } : {}) }) : connectTcp({ host, port });
      connected.once(tls ? "secureConnect" : "connect", () => {
        connected.off("error", onError);
        resolve(connected);
      });
      connected.once("error", onError);
      connected.setTimeout(timeoutMs, () => connected.destroy(new Error("timed out")));
    });
    const connection = new WireConnection(socket, timeoutMs);
    try {
      await connection.exchange({ hello: 1, client: { application: { name: options.appName ?? "mutualis-operator" } }, $db: "admin" });
      if (address.user !== undefined) await connection.authenticate(address.user, address.password ?? "");
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** SASL PLAIN (RFC 4616) in one step; over TLS only, where the password is not readable. */
  private async authenticate(user: string, password: string): Promise<void> {
    const payload = new Binary(Buffer.from(`\0${user}\0${password}`, "utf8"));
    try {
      const reply = await this.exchange({ saslStart: 1, mechanism: "PLAIN", payload, autoAuthorize: 1, $db: "$external" });
      if (reply.done !== true) throw new WireError("the database did not complete PLAIN authentication");
    } catch (error) {
      // The server's message is about the user, never the password; the payload is not in it.
      throw new WireError(`the database refused the operator's credentials: ${(error as Error).message}`, (error as WireError).code, { cause: error });
    }
  }

  exchange(command: Document): Promise<Document> {
    if (this.closed) return Promise.reject(new WireError("the connection was closed"));
    const requestId = nextRequestId++;
    return new Promise<Document>((resolve, reject) => {
      const timer = setTimeout(() => this.close(new WireError(`the database did not answer within ${this.timeoutMs / 1000} s`)), this.timeoutMs);
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
      this.socket.write(encodeMessage(requestId, command));
    });
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length ? Buffer.concat([this.received, chunk]) : chunk;
    while (this.received.length >= 4) {
      const length = this.received.readInt32LE(0);
      if (length < headerLength + 5 || length > maxReply) {
        this.close(new WireError(`the database sent a message of ${length} bytes, which is not a reply`));
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
        this.close(error as Error);
        return;
      }
    }
  }

  /** Ends the connection, failing the command that waits on it. */
  close(error: Error = new WireError("the connection was closed")): void {
    if (this.closed) return;
    this.closed = true;
    this.received = Buffer.alloc(0);
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
    this.socket.destroy();
  }
}

/**
 * FerretDB's commands for the operator: a few connections (four by default), opened when needed
 * and kept for the next command, so that the reconciles running at once do not wait on each
 * other's database work. Every command the operator sends is idempotent, so one lost on a
 * connection the server had closed while idle is sent once more, on a new one.
 */
export class WireClient {
  private readonly idle: WireConnection[] = [];
  private readonly waiting: (() => void)[] = [];
  private connections = 0;
  private closing = false;

  constructor(
    private readonly address: WireAddress,
    private readonly options: ClientOptions = {},
  ) {}

  /** Runs `command` on database `db` and returns the server's reply; a failure is a WireError. */
  async command(db: string, command: Document): Promise<Document> {
    const body = { ...command, $db: db };
    const first = await this.acquire();
    try {
      return await first.connection.exchange(body);
    } catch (error) {
      const lostWhileIdle = first.reused && first.connection.closed && !(error instanceof WireError && error.code !== undefined);
      if (!lostWhileIdle) throw error;
    } finally {
      this.release(first.connection);
    }
    const fresh = await this.acquire(true);
    try {
      return await fresh.connection.exchange(body);
    } finally {
      this.release(fresh.connection);
    }
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? 10_000;
  }

  private async acquire(fresh = false): Promise<{ connection: WireConnection; reused: boolean }> {
    if (this.closing) throw new WireError("the database client is closed");
    for (;;) {
      const ready = fresh ? undefined : this.idle.pop();
      if (ready && !ready.closed) return { connection: ready, reused: true };
      if (ready) {
        this.connections--;
        continue;
      }
      if (this.connections < (this.options.maxConnections ?? 4)) break;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.connections++;
    try {
      return { connection: await WireConnection.open(this.address, this.options, this.timeoutMs), reused: false };
    } catch (error) {
      this.connections--;
      this.waiting.shift()?.();
      throw error;
    }
  }

  /** Gives a connection back: kept for the next command, or counted out if it closed. */
  private release(connection: WireConnection): void {
    if (connection.closed || this.closing) {
      connection.close();
      this.connections--;
    } else {
      this.idle.push(connection);
    }
    this.waiting.shift()?.();
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const connection of this.idle.splice(0)) {
      connection.close();
      this.connections--;
    }
  }
}
