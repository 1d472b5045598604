import { createHash } from "node:crypto";
import { encodeAccount, encodeActivation, encodeGeneric, encodeUser, fmtCreds, type Account, type User } from "@nats-io/jwt";
import { createAccount, createUser, fromSeed, type KeyPair } from "@nats-io/nkeys";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { catalogue, inboxPrefix, platformUsers, type PlatformUser, type PlatformUserPermissions } from "../catalogue.ts";
import { tenantSubjectPrefix } from "../constants.ts";


export class MessagingError extends Error {
  override name = "MessagingError";
}

/** The keys of one tenant's account and user; kept by the operator, never in the tenant's namespace. */
export interface TenantKeys {
  readonly accountSeed: string;
  readonly userSeed: string;
  /** The user's JWT as last issued: kept so the tenant's creds do not change on every reconcile. */
  readonly userJwt?: string;
}

/**
 * The platform services account's keys: the account, and one user per shared deployment and for
 * the operator. `retiredUser` is the one user all of them once shared: revoked in the account.
 */
export interface PlatformServicesKeys {
  readonly accountSeed: string;
  readonly userSeeds: Readonly<Record<PlatformUser, string>>;
  readonly retiredUser?: string;
}

/** A user's JWT permissions from the catalogue's. */
export function userPermissions(permissions: PlatformUserPermissions): Partial<User> {
  return {
    pub: { allow: [...permissions.publish] },
    sub: { allow: [...permissions.subscribe] },
    ...(permissions.responds ? { resp: { max: 1, ttl: 0 } } : {}),
  };
}

export function newTenantKeys(): TenantKeys {
  return {
    accountSeed: new TextDecoder().decode(createAccount().getSeed()),
    userSeed: new TextDecoder().decode(createUser().getSeed()),
  };
}

const noLimits = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
const jetStreamOn = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

/**
 * What a tenant's user may publish and subscribe to: its own subjects, what JetStream, replies
 * and service discovery need, and what its dedicated deployments send the platform (the
 * prefecture connector, on its own subjects; the actes transmission flow and files, and the parapheur's files, in its own account; its
 * business events, into the platform's events stream through its import).
 */
export function tenantPermissions(collectivity: string): Partial<User> {
  const own = `${tenantSubjectPrefix(collectivity)}.>`;
  return {
    pub: { allow: [own, "_INBOX.>", "$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "$O.ACTES_FILES.>", "$O.PARAPHEUR_FILES.>", `prefecture.*.${collectivity}.>`, `ipl.${collectivity}.>`, `actes.transmit.${collectivity}`, eventsOf(collectivity)] },
    sub: { allow: [own, "_INBOX.>", "$SRV.>"] },
    // A dedicated deployment answers requests the gateway sends through the platform's import.
    resp: { max: 1, ttl: 0 },
  };
}

/** A collectivity's business events (`events.<collectivity>.<service>.<event>`), which the observatory counts. */
export function eventsOf(collectivity: string): string {
  return `events.${collectivity}.>`;
}

/** The catalogue's platform subjects for one collectivity (or `*`, for the platform's exports). */
function platformSubjects(service: string, collectivity: string): { services: string[]; streams: string[] } {
  const imports = catalogue[service as keyof typeof catalogue]?.platformImports;
  const fill = (subject: string) => subject.replaceAll("{collectivity}", collectivity);
  return { services: (imports?.services ?? []).map(fill), streams: (imports?.streams ?? []).map(fill) };
}

interface ClaimsReply {
  data?: { code?: number; message?: string };
  error?: { code?: number; description?: string };
}

/**
 * Keeps one NATS account per tenant on a server in operator mode: account JWTs signed with the
 * platform's operator key and pushed to the server's resolver through the system account.
 */
/**
 * Key pairs by seed, their public and private keys computed once. nkeys derives them from the
 * seed on every call, with an ed25519 scalar multiplication in plain JavaScript (tweetnacl):
 * milliseconds each, and the JWT encoders ask several times per token. Profiling showed a busy
 * operator spending most of its CPU there.
 *
 * Only the most recently used are kept: a reconcile asks for its tenant's keys again and again,
 * within moments; keeping every tenant's would hold 1,500 accounts' private keys in memory for
 * nothing (they are read from the tenant's Secret when needed).
 */
const keyPairs = new Map<string, KeyPair>();
const keyPairsKept = 64;
export function keyPair(seed: string | Uint8Array): KeyPair {
  const text = typeof seed === "string" ? seed : new TextDecoder().decode(seed);
  const known = keyPairs.get(text);
  if (known) {
    keyPairs.delete(text);
    keyPairs.set(text, known);
    return known;
  }
  const derived = fromSeed(new TextEncoder().encode(text));
  const publicKey = derived.getPublicKey();
  const privateKey = derived.getPrivateKey();
  const pair: KeyPair = {
    getPublicKey: () => publicKey,
    getPrivateKey: () => privateKey,
    getSeed: () => derived.getSeed(),
    sign: (input) => derived.sign(input),
    verify: (input, signature) => derived.verify(input, signature),
    seal: (input, recipient, nonce) => derived.seal(input, recipient, nonce),
    open: (message, sender) => derived.open(message, sender),
    clear: () => derived.clear(),
  };
  keyPairs.set(text, pair);
  if (keyPairs.size > keyPairsKept) keyPairs.delete(keyPairs.keys().next().value!);
  return pair;
}

/** What was pushed, remembered as a hash: a tenant's claims are a kilobyte, 1,500 tenants' add up. */
function digest(claims: unknown): string {
  return createHash("sha256").update(JSON.stringify(claims)).digest("base64url");
}

/** A JWT's claims, read without checking its signature: only for tokens this operator signed and stored itself. */
function claimsOf<T>(jwt: string): { iss: string; nats: Partial<T> } {
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as { iss: string; nats: Partial<T> };
}

export class NatsAccounts {
  private connection: NatsConnection | undefined;
  /** What was last pushed per account, so an unchanged account is not pushed again. */
  private readonly pushed = new Map<string, string>();
  /** The shared services each collectivity's account imports, as last pushed. */
  private readonly imported = new Map<string, readonly string[]>();
  private servicesAccount: string | undefined;
  private servicesConnection: NatsConnection | undefined;
  private servicesKeys: PlatformServicesKeys | undefined;
  private servicesList: readonly string[] = [];
  /** Per collectivity, its account and the services it runs dedicated, which the platform imports. */
  private readonly dedicated = new Map<string, { account: string; services: readonly string[] }>();

  constructor(
    private readonly url: string,
    private readonly operator: KeyPair,
    private readonly systemCreds: Uint8Array,
  ) {}

  private async system(): Promise<NatsConnection> {
    if (!this.connection || this.connection.isClosed()) {
      try {
        this.connection = await connect({
          servers: this.url,
          authenticator: credsAuthenticator(this.systemCreds),
          name: "mutualis-operator",
          maxReconnectAttempts: -1,
        });
      } catch (error) {
        throw new MessagingError(`cannot reach NATS at ${this.url}: ${(error as Error).message}`, { cause: error });
      }
    }
    return this.connection;
  }

  get connected(): boolean {
    return this.connection !== undefined && !this.connection.isClosed();
  }

  private async request(subject: string, jwt: string): Promise<void> {
    const nc = await this.system();
    let body: ClaimsReply;
    try {
      body = (await nc.request(subject, jwt, { timeout: 5000 })).json<ClaimsReply>();
    } catch (error) {
      throw new MessagingError(`the NATS account resolver did not answer: ${(error as Error).message}`, { cause: error });
    }
    if (body.error) throw new MessagingError(`the NATS account resolver refused: ${body.error.description ?? "unknown error"}`);
  }

  /**
   * Pushes the tenant's account (revoking its user while suspended) when it differs from what
   * was last pushed. Returns the account's public key and the user's JWT and creds file; the JWT
   * is the one in `keys` unless its permissions are out of date.
   */
  async ensureTenant(
    collectivity: string,
    keys: TenantKeys,
    suspended: boolean,
    sharedServices: readonly string[] = [],
    dedicatedServices: readonly string[] = [],
    /** Its share of JetStream (from its quota); unlimited when not given. */
    jetStream?: { readonly streams: number; readonly consumers: number; readonly streamBytes: number },
  ): Promise<{ accountPublicKey: string; userJwt: string; userCreds: Uint8Array }> {
    const account = keyPair(keys.accountSeed);
    const user = keyPair(keys.userSeed);
    const accountPublicKey = account.getPublicKey();
    const services = [...new Set(sharedServices)].sort();
    const dedicated = [...new Set(dedicatedServices)].sort();
    if (services.length + dedicated.length > 0 && !this.servicesAccount) throw new MessagingError("the platform services account is not set up yet");
    const fromPlatform = (type: "service" | "stream", subject: string) => ({ name: subject, type, subject, account: this.servicesAccount! });
    const claims: Partial<Account> = {
      // The tenant's JetStream is bounded on the cluster that also holds the platform's streams.
      // Streams on disk only, each saying its maximum (at most streamBytes), so the tenant's total is bounded.
      limits: {
        ...noLimits,
        ...(jetStream
          ? { disk_storage: -1, mem_storage: 0, streams: jetStream.streams, consumer: jetStream.consumers, disk_max_stream_bytes: jetStream.streamBytes, max_bytes_required: true }
          : jetStreamOn),
      },
      // A revocation dated t rejects the user's JWTs issued up to t; 2100-01-01 covers them all.
      ...(suspended ? { revocations: { [user.getPublicKey()]: 4_102_444_800 } } : {}),
      // Each shared service the tenant uses, imported from the platform services account: only
      // the tenant's own subjects, so a request can only ever speak for this collectivity.
      // Each dedicated service: its deployment runs in this account, which exports its subjects
      // to the platform (the gateway reaches it there) and imports what it needs from the
      // platform, on this collectivity's subjects only.
      ...(services.length + dedicated.length > 0
        ? {
            imports: [
              ...services.map((service) => ({
                name: service,
                type: "service" as const,
                subject: `${tenantSubjectPrefix(collectivity)}.${service}.>`,
                account: this.servicesAccount!,
              })),
              ...dedicated.flatMap((service) => {
                const subjects = platformSubjects(service, collectivity);
                return [...subjects.services.map((s) => fromPlatform("service", s)), ...subjects.streams.map((s) => fromPlatform("stream", s))];
              }),
              // What its dedicated deployments did, into the platform's events stream: a service
              // import, so the stream's acknowledgement comes back and an event is never lost unseen.
              ...(dedicated.length > 0 ? [fromPlatform("service", eventsOf(collectivity))] : []),
            ],
          }
        : {}),
      ...(dedicated.length > 0
        ? {
            exports: dedicated.map((service) => ({ name: service, type: "service" as const, subject: `${tenantSubjectPrefix(collectivity)}.${service}.>` })),
          }
        : {}),
      tags: [`collectivity:${collectivity}`],
    };
    // Compared before the activations are signed: a token signed again is new each time.
    const fingerprint = digest(claims);
    if (this.pushed.get(accountPublicKey) !== fingerprint) {
      const imports = await Promise.all((claims.imports ?? []).map(async (imported) => ({ ...imported, token: await this.activation(accountPublicKey, imported) })));
      await this.request("$SYS.REQ.CLAIMS.UPDATE", await encodeAccount(`coll-${collectivity}`, account, { ...claims, ...(claims.imports ? { imports } : {}) }, { signer: this.operator }));
      this.pushed.set(accountPublicKey, fingerprint);
    }
    this.imported.set(collectivity, services);
    await this.setDedicated(collectivity, accountPublicKey, suspended ? [] : dedicated);
    const permissions = tenantPermissions(collectivity);
    const current = keys.userJwt ? claimsOf<User>(keys.userJwt) : undefined;
    const upToDate =
      current?.iss === accountPublicKey &&
      JSON.stringify({ pub: current.nats.pub, sub: current.nats.sub, resp: current.nats.resp }) === JSON.stringify(permissions);
    const userJwt = upToDate ? keys.userJwt! : await encodeUser(`coll-${collectivity}`, user, account, permissions);
    return { accountPublicKey, userJwt, userCreds: fmtCreds(userJwt, user) };
  }

  /**
   * The platform services account's activation of one import by a tenant's account: signed by
   * the services account, for that account and that subject only (the export requires it).
   */
  private activation(importer: string, imported: { name: string; subject: string; type: "service" | "stream" }): Promise<string> {
    const services = keyPair(this.servicesKeys!.accountSeed);
    return encodeActivation(imported.name, importer, services, imported.type, { subject: imported.subject });
  }

  /** Drops every stream of the tenant's account, then removes the account from the resolver. */
  async deleteTenant(keys: TenantKeys): Promise<number> {
    const account = keyPair(keys.accountSeed);
    const cleaner = createUser();
    const creds = fmtCreds(await encodeUser("cleanup", cleaner, account, {}), cleaner);
    let dropped = 0;
    let nc: NatsConnection | undefined;
    try {
      nc = await connect({ servers: this.url, authenticator: credsAuthenticator(creds), name: "mutualis-operator-cleanup" });
      const jsm = await jetstreamManager(nc);
      for await (const name of jsm.streams.names()) {
        await jsm.streams.delete(name);
        dropped++;
      }
    } catch (error) {
      // An account the server no longer knows has no streams left to drop.
      if (!/authorization|not enabled/i.test(String((error as Error).message))) {
        throw new MessagingError(`could not drop the tenant's streams: ${(error as Error).message}`, { cause: error });
      }
    } finally {
      await nc?.close();
    }
    const request = await encodeGeneric("delete", this.operator, "generic", { accounts: [account.getPublicKey()] });
    await this.request("$SYS.REQ.CLAIMS.DELETE", request);
    this.pushed.delete(account.getPublicKey());
    for (const [collectivity, { account: key }] of this.dedicated) if (key === account.getPublicKey()) await this.setDedicated(collectivity, key, []);
    keyPairs.delete(keys.accountSeed);
    keyPairs.delete(keys.userSeed);
    return dropped;
  }

  /** The shared services the collectivity's account imports now. */
  importsOf(collectivity: string): readonly string[] {
    return this.imported.get(collectivity) ?? [];
  }

  /**
   * Pushes the platform services account: it runs the shared deployments and exports each
   * catalogue service's tenant subjects, `tenant.*.<service>.>`. Returns the creds of the user
   * the shared deployments (and the operator, to enable tenants) connect with.
   */
  async ensurePlatformServices(keys: PlatformServicesKeys, services: readonly string[]): Promise<{ accountPublicKey: string; users: Map<PlatformUser, Uint8Array> }> {
    const account = keyPair(keys.accountSeed);
    this.servicesKeys = keys;
    this.servicesList = services;
    this.servicesAccount = account.getPublicKey();
    // The dedicated deployments' imports the running platform has: a restarted operator keeps
    // them until the collectivities are reconciled, so the gateway never loses its way there.
    if (this.dedicated.size === 0) await this.adoptDedicatedImports(account.getPublicKey());
    await this.pushPlatformServices();
    const users = new Map<PlatformUser, Uint8Array>();
    for (const [name, permissions] of Object.entries(platformUsers) as [PlatformUser, PlatformUserPermissions][]) {
      const user = keyPair(keys.userSeeds[name]);
      users.set(name, fmtCreds(await encodeUser(`mutualis-${name}`, user, account, userPermissions(permissions)), user));
    }
    if (!this.servicesConnection || this.servicesConnection.isClosed()) {
      this.servicesConnection = await connect({
        servers: this.url,
        authenticator: credsAuthenticator(users.get("operator")!),
        name: "mutualis-operator-services",
        inboxPrefix: inboxPrefix("operator"),
        maxReconnectAttempts: -1,
      });
    }
    return { accountPublicKey: account.getPublicKey(), users };
  }

  /**
   * The platform services account: it runs the shared deployments, exports each catalogue
   * service's tenant subjects (`tenant.*.<service>.>`) and the platform subjects dedicated
   * deployments use, and imports each dedicated deployment's subjects from its collectivity.
   */
  private async pushPlatformServices(): Promise<void> {
    const account = keyPair(this.servicesKeys!.accountSeed);
    const wildcard = this.servicesList.map((service) => platformSubjects(service, "*"));
    const claims: Partial<Account> = {
      limits: { ...noLimits, ...jetStreamOn },
      // Every export needs an activation: only an account the operator gave a token signed by
      // this account (for its own collectivity's subjects) imports anything from it.
      exports: [
        ...this.servicesList.map((service) => ({ name: service, type: "service" as const, subject: `tenant.*.${service}.>`, token_req: true })),
        ...wildcard.flatMap((s) => s.services.map((subject) => ({ name: subject, type: "service" as const, subject, token_req: true }))),
        ...wildcard.flatMap((s) => s.streams.map((subject) => ({ name: subject, type: "stream" as const, subject, token_req: true }))),
        // Dedicated deployments' business events, each collectivity importing its own subjects.
        { name: "events", type: "service" as const, subject: eventsOf("*"), token_req: true },
      ],
      imports: [...this.dedicated.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .flatMap(([collectivity, { account: from, services }]) =>
          services.map((service) => ({ name: `${collectivity}-${service}`, type: "service" as const, subject: `${tenantSubjectPrefix(collectivity)}.${service}.>`, account: from })),
        ),
      tags: ["platform:services"],
      // The user every shared deployment once shared, with no limits: every JWT it was ever
      // issued (before 2100) is revoked, so it opens nothing any more.
      ...(this.servicesKeys!.retiredUser ? { revocations: { [this.servicesKeys!.retiredUser]: 4_102_444_800 } } : {}),
    };
    const fingerprint = digest(claims);
    if (this.pushed.get(account.getPublicKey()) !== fingerprint) {
      await this.request("$SYS.REQ.CLAIMS.UPDATE", await encodeAccount("mutualis-services", account, claims, { signer: this.operator }));
      this.pushed.set(account.getPublicKey(), fingerprint);
    }
  }

  /** Sets the services a collectivity runs dedicated; the platform account imports their subjects. */
  async setDedicated(collectivity: string, account: string, services: readonly string[]): Promise<void> {
    const current = this.dedicated.get(collectivity);
    if (JSON.stringify(current ?? { account, services: [] }) === JSON.stringify({ account, services })) return;
    if (services.length > 0) this.dedicated.set(collectivity, { account, services });
    else this.dedicated.delete(collectivity);
    if (this.servicesKeys) await this.pushPlatformServices();
  }

  /** The services a collectivity runs dedicated, as the platform account imports them now. */
  dedicatedOf(collectivity: string): readonly string[] {
    return this.dedicated.get(collectivity)?.services ?? [];
  }

  private async adoptDedicatedImports(account: string): Promise<void> {
    let jwt: string;
    try {
      jwt = (await (await this.system()).request(`$SYS.REQ.ACCOUNT.${account}.CLAIMS.LOOKUP`, "", { timeout: 5000 })).string();
    } catch {
      return; // a new platform: nothing to adopt
    }
    if (!jwt.startsWith("ey")) return;
    for (const imported of claimsOf<Account>(jwt).nats.imports ?? []) {
      const [root, collectivity, service] = imported.subject.split(".");
      if (root !== "tenant" || !collectivity || !service || !imported.account) continue;
      const known = this.dedicated.get(collectivity);
      this.dedicated.set(collectivity, { account: imported.account, services: [...(known?.services ?? []), service].sort() });
    }
  }

  /** The services account's connection, once set up: the operator's calls to the services go through it (ServiceClient). */
  servicesNats(): NatsConnection | undefined {
    return this.servicesConnection;
  }

  async close(): Promise<void> {
    await this.servicesConnection?.close();
    await this.connection?.close();
  }
}

