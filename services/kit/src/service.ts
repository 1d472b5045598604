import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Service as NatsService } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Express } from "express";
import type { z } from "zod";
import { loadSettings, type BaseSettings } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { CallerVerifier } from "./callers.ts";
import { BusinessEvents, ensureEventStream } from "./events.ts";
import { asyncApiDocument, type EmittedSubject } from "./contracts.ts";
import { createHttpApp, createInternalApp } from "./http.ts";
import { createLogger, type Logger } from "./log.ts";
import { ServiceMetrics } from "./metrics.ts";
import { Database } from "./mongo.ts";
import { connectNats, endpointsForTenant, serveEndpoints, type EndpointSpec } from "./nats.ts";

/** What a service's domain code is given. */
export interface ServiceContext<S extends BaseSettings = BaseSettings> {
  readonly settings: S;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  readonly nats: NatsConnection;
  readonly database: Database;
  /** The service's business events, which the observatory counts exactly. */
  readonly events: BusinessEvents;
  /** Verifies callers' tokens; undefined when the service has no identity issuer (IDENTITY_ISSUER). */
  readonly callers?: CallerVerifier;
}

/** A service is its domain: routes, NATS endpoints, and what to do at start and stop. */
export interface ServiceDefinition<S extends BaseSettings = BaseSettings> {
  readonly description?: string;
  routes?(app: Express, context: ServiceContext<S>): void;
  endpoints?(context: ServiceContext<S>): readonly EndpointSpec[];
  onStart?(context: ServiceContext<S>): Promise<void>;
  /** Called after HTTP and NATS stop taking work, before connections close. */
  onStop?(context: ServiceContext<S>): Promise<void>;
  /** The subjects it publishes on besides its answers (its events, what it tells other services), for its contract. */
  readonly emits?: readonly EmittedSubject[];
}

/**
 * A running service: `start()` connects NATS and the database and listens (port 0 in tests);
 * `stop()` stops taking work, lets requests in flight finish, drains NATS and closes the rest.
 */
export class RunningService<S extends BaseSettings = BaseSettings> {
  private server: Server | undefined;
  private internal: Server | undefined;
  private natsService: NatsService | undefined;
  private context: ServiceContext<S> | undefined;
  private stopping: Promise<void> | undefined;
  private readyCache = { at: 0, reason: undefined as string | undefined };
  readonly log: Logger;
  readonly metrics: ServiceMetrics;

  constructor(
    private readonly definition: ServiceDefinition<S>,
    readonly settings: S,
  ) {
    this.log = createLogger(settings.SERVICE_NAME, settings.LOG_LEVEL);
    this.metrics = new ServiceMetrics(settings.SERVICE_NAME);
  }

  /** The HTTP port, once started. */
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  get url(): string {
    return `${this.settings.HTTP_TLS_CERT_FILE ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  /** Health, readiness and metrics (plain HTTP), once started. */
  get internalUrl(): string {
    return `http://127.0.0.1:${(this.internal?.address() as AddressInfo | null)?.port ?? 0}`;
  }

  async start(): Promise<this> {
    const { settings } = this;
    const nats = await connectNats(settings.NATS_URL, settings.NATS_CREDS_FILE, settings.SERVICE_NAME, this.log);
    const database = await Database.connect(settings.MONGODB_URI, settings.MONGODB_DATABASE, settings.SERVICE_NAME, settings.MONGODB_CA);
    const events = new BusinessEvents(nats, settings.SERVICE_NAME, settings.TENANT, this.log, this.metrics, settings.NATS_STREAM_REPLICAS);
    // A shared deployment makes the platform's events stream if it is the first (a dedicated one,
    // in its collectivity's account, must not: its events go to the platform's through its import).
    if (!settings.TENANT) {
      await ensureEventStream(nats, settings.NATS_STREAM_REPLICAS).catch((error: unknown) => this.log.warn({ reason: (error as Error).message }, "the business events stream could not be made: events will be retried"));
    }
    const callers = settings.IDENTITY_ISSUER
      ? new CallerVerifier({ issuer: settings.IDENTITY_ISSUER, audience: settings.IDENTITY_AUDIENCE, caFile: settings.IDENTITY_CA_FILE, ca: settings.IDENTITY_CA })
      : undefined;
    const context: ServiceContext<S> = { settings, log: this.log, metrics: this.metrics, nats, database, events, ...(callers ? { callers } : {}) };
    this.context = context;
    await this.definition.onStart?.(context);
    const endpoints = endpointsForTenant(this.definition.endpoints?.(context) ?? [], settings.TENANT);
    if (endpoints.length > 0) {
      this.natsService = await serveEndpoints(
        nats,
        { name: settings.SERVICE_NAME, version: settings.SERVICE_VERSION, description: this.definition.description },
        endpoints,
        this.metrics,
        this.log,
        callers,
      );
      // The server has every endpoint's subscription before the service says it started: a
      // request sent at once, from another connection, finds it.
      await nats.flush();
    }
    const app = createHttpApp(
      { bodyLimit: settings.HTTP_BODY_LIMIT, trustedProxies: settings.TRUSTED_PROXIES, metrics: this.metrics, log: this.log, notReady: () => this.notReady() },
      (express) => this.definition.routes?.(express, context),
    );
    this.server =
      settings.HTTP_TLS_CERT_FILE && settings.HTTP_TLS_KEY_FILE
        ? createTlsServer({ cert: readFileSync(settings.HTTP_TLS_CERT_FILE), key: readFileSync(settings.HTTP_TLS_KEY_FILE) }, app).listen(settings.HTTP_PORT, settings.HTTP_HOST)
        : app.listen(settings.HTTP_PORT, settings.HTTP_HOST);
    await once(this.server, "listening");
    const contract = asyncApiDocument({ name: settings.SERVICE_NAME, version: settings.SERVICE_VERSION, ...(this.definition.description ? { description: this.definition.description } : {}) }, endpoints, this.definition.emits);
    this.internal = createInternalApp({ metrics: this.metrics, notReady: () => this.notReady(), contract: () => contract }).listen(settings.HTTP_INTERNAL_PORT, settings.HTTP_HOST);
    await once(this.internal, "listening");
    this.log.info({ port: this.port, internalPort: (this.internal.address() as AddressInfo).port, endpoints: endpoints.map((e) => e.subject) }, "service started");
    return this;
  }

  /** Why the service cannot serve now (NATS or the database unreachable), checked at most every 2 s. */
  async notReady(): Promise<string | undefined> {
    if (this.stopping) return "stopping";
    if (Date.now() - this.readyCache.at < 2000) return this.readyCache.reason;
    const context = this.context;
    let reason: string | undefined;
    if (!context) reason = "starting";
    else if (context.nats.isClosed()) reason = "NATS connection closed";
    else if (!(await context.database.ping())) reason = "database unreachable";
    else {
      try {
        await context.nats.flush();
      } catch {
        reason = "NATS unreachable";
      }
    }
    this.readyCache = { at: Date.now(), reason };
    return reason;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info("stopping: finishing requests in flight");
      const closed = this.server ? new Promise<void>((r) => this.server!.close(() => r())) : Promise.resolve();
      this.server?.closeIdleConnections();
      await this.natsService?.stop();
      await closed;
      if (this.context) {
        await this.definition.onStop?.(this.context);
        await this.context.events.settle();
        await this.context.nats.drain();
        await this.context.database.close();
      }
      // Last: it says "stopping" to the probes until the end.
      const internalClosed = new Promise<void>((r) => (this.internal ? this.internal.close(() => r()) : r()));
      this.internal?.closeAllConnections();
      await internalClosed;
      this.log.info("stopped");
    })();
    return this.stopping;
  }
}

/** Runs a service as a process: starts it, and stops it gracefully on SIGTERM or SIGINT. */
export async function runService<S extends BaseSettings>(definition: ServiceDefinition<S>, settings: S): Promise<RunningService<S>> {
  const service = new RunningService(definition, settings);
  const shutdown = (signal: string) => {
    service.log.info({ signal }, "signal received");
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        service.log.error({ err: error }, "unclean shutdown");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  return service.start();
}

/**
 * A service's whole `main`: reads its settings, runs it, and exits with a clear message when it
 * cannot start (a bad setting is named; its value never printed).
 */
export async function serviceMain<T extends z.ZodObject>(
  name: string,
  definition: ServiceDefinition<z.infer<T> & BaseSettings>,
  schema: T,
): Promise<void> {
  try {
    await runService(definition, loadSettings(schema) as z.infer<T> & BaseSettings);
  } catch (error) {
    createLogger(name, "info").fatal({ err: error instanceof ConfigError ? error.message : error }, `${name} failed to start`);
    process.exit(1);
  }
}
