import { createHash } from "node:crypto";
import { jetstream, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  allow,
  baseSettings,
  consumeFlow,
  ensureWorkQueue,
  flowSignal,
  handOver,
  InvalidRequest,
  NotFound,
  ObjectFiles,
  Repository,
  statusOf,
  tenantEndpoint,
  tenantEndpoints,
  TenantRepository,
  Unavailable,
  type Database,
  type EndpointSpec,
  type FlowConsumer,
  type ServiceContext,
  type ServiceDefinition,
} from "@mutualis/service-kit";
import { z } from "zod";
import { flowDefinition, stepRef, type FlowDefinition } from "./domain/definition.ts";
import { FlowDocumentRepository, type FlowDocument } from "./documents.ts";

export const flowsSettings = baseSettings.extend({
  /** The most the flows' stream holds (its messages are small: what to run, what ended). */
  FLOWS_STREAM_MAX_BYTES: z.coerce.number().int().positive().default(64 * 1024 * 1024),
  /** The most the object store of the documents in flows holds. */
  FLOWS_FILES_MAX_BYTES: z.coerce.number().int().positive().default(1024 ** 3),
  /** How many times a step is tried (with back-off) before it is parked for a person to act on. */
  FLOWS_MAX_DELIVERIES: z.coerce.number().int().min(1).default(6),
  /** How long a step may wait to be run before it is queued again (its queueing was lost). */
  FLOWS_REQUEUE_AFTER_SECONDS: z.coerce.number().int().positive().default(60),
});
export type FlowsSettings = z.infer<typeof flowsSettings>;

/** The flows' one durable stream: steps to run (`flows.run.<collectivity>`) and steps that ended elsewhere (`flows.signal.<collectivity>`). */
export const flowsStream = "FLOWS";
const durable = "flows";
const sha256 = (text: string | Uint8Array) => createHash("sha256").update(text).digest("hex");

const signal = flowSignal;
const run = z.object({ document: z.string(), step: z.number().int().min(0) });

class DefinitionRepository extends Repository<{ _id: string; collectivity: string; definition: FlowDefinition; updatedAt: Date; updatedBy: string }> {
  constructor(database: Database) {
    super(database, "definitions");
  }
  async save(collectivity: string, definition: FlowDefinition, by: string): Promise<void> {
    await this.collection.replaceOne({ _id: `${collectivity}/${definition.kind}` }, { collectivity, definition, updatedAt: new Date(), updatedBy: by }, { upsert: true });
  }
  async find(collectivity: string, kind: string): Promise<FlowDefinition | undefined> {
    return (await this.collection.findOne({ _id: `${collectivity}/${kind}` }))?.definition;
  }
  async list(collectivity: string): Promise<FlowDefinition[]> {
    return (await this.collection.find({ collectivity }).sort({ _id: 1 }).toArray()).map((d) => d.definition);
  }
}

/** A request to another service on its platform subject; its refusal as the error it is. */
async function ask<T>(nc: NatsConnection, subject: string, body: unknown): Promise<T> {
  let reply;
  try {
    reply = await nc.request(subject, JSON.stringify(body), { timeout: 30_000 });
  } catch (error) {
    throw new Unavailable(`${subject} did not answer: ${(error as Error).message}`, { cause: error });
  }
  const code = reply.headers?.get("Nats-Service-Error-Code");
  if (code) {
    const message = `${subject} refused: ${reply.headers?.get("Nats-Service-Error") ?? code}`;
    throw Number(code) >= 500 ? new Unavailable(message) : new InvalidRequest(message);
  }
  return reply.json<T>();
}

/**
 * The flows (lot 1's service bus): per collectivity and kind of document, the services a document
 * goes through, in order — its circuit in the parapheur, then its publication. Each step is a
 * message on one durable JetStream consumer: run once whatever restarts (what a step makes
 * elsewhere has an id the step derives, so running it again finds it), retried with back-off,
 * parked with its reason after its last try for an agent to send again; every document shows
 * where it stands and its history.
 */
export function flowsService(): ServiceDefinition<FlowsSettings> {
  let files: ObjectFiles;
  let consumer: FlowConsumer | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  return {
    description: "Flows: a document through the collectivity's services, step by step",
    emits: [
      { subject: "flows.signal.*", description: "Read, not sent: what the parapheur and actes tell the flows of a step they ran (flowSignal).", schema: flowSignal },
      { subject: "flows.run.*", description: "A step of a document to run, on the flows' own durable stream.", schema: run },
      { subject: "events.*.flows.*", description: "A business event: a flow finished or rejected (flow_finished, flow_rejected).", schema: z.object({ id: z.string(), value: z.number() }).loose() },
    ],
    async onStart(context) {
      const { nats, settings, database, log } = context;
      files = await ObjectFiles.open(nats, "FLOWS_FILES", { replicas: settings.NATS_STREAM_REPLICAS, maxBytes: settings.FLOWS_FILES_MAX_BYTES });
      await ensureWorkQueue(nats, { name: flowsStream, subjects: ["flows.run.*", "flows.signal.*"], durable, replicas: settings.NATS_STREAM_REPLICAS, maxBytes: settings.FLOWS_STREAM_MAX_BYTES, ackWaitMs: 60_000 });
      const documents = new FlowDocumentRepository(database);
      await documents.ensureIndexes();
      const engine = new Engine(context, documents, files);
      consumer = await consumeFlow(nats, flowsStream, (msg) => engine.handle(msg), log, {
        durable,
        concurrency: 4,
        maxDeliveries: settings.FLOWS_MAX_DELIVERIES,
        park: (msg, error) => engine.park(msg, error),
      });
      // A step whose queueing was lost (NATS away when it was due) is queued again.
      sweeper = setInterval(() => {
        engine.requeueStale(new Date(Date.now() - settings.FLOWS_REQUEUE_AFTER_SECONDS * 1000)).catch((error: unknown) => log.warn({ err: error }, "stale steps not queued again yet"));
      }, Math.min(30_000, settings.FLOWS_REQUEUE_AFTER_SECONDS * 1000));
    },
    async onStop() {
      clearInterval(sweeper);
      await consumer?.close();
    },
    endpoints(context) {
      return flowEndpoints(context, files);
    },
  };
}

/** Runs steps and takes their ends; every change goes through the document's repository. */
class Engine {
  private readonly js;

  constructor(
    private readonly context: ServiceContext<FlowsSettings>,
    private readonly documents: FlowDocumentRepository,
    private readonly files: ObjectFiles,
  ) {
    this.js = jetstream(context.nats);
  }

  async handle(msg: JsMsg): Promise<void> {
    const collectivity = msg.subject.split(".")[2]!;
    if (msg.subject.startsWith("flows.run.")) {
      const { document, step } = run.parse(msg.json());
      await this.run(await this.documents.require(collectivity, document), step);
    } else {
      await this.signalled(collectivity, signal.parse(msg.json()));
    }
  }

  /** Queues a step; the same step queued twice (a retry, a sweep) is run once. */
  async queue(document: FlowDocument, step: number, attempt = 0): Promise<void> {
    await this.js.publish(`flows.run.${document.collectivity}`, JSON.stringify({ document: document._id, step }), { msgID: `${document._id}/${step}/${attempt}`, timeout: 10_000 });
  }

  private async run(document: FlowDocument, index: number): Promise<void> {
    const step = document.steps[index];
    if (!step || step.state === "done" || step.state === "rejected" || document.state === "rejected") return;
    const { nats, log } = this.context;
    const c = document.collectivity;
    const definition = document.definition.steps[index]!;
    const attempts = step.attempts + 1;
    if (definition.service === "parapheur") {
      const id = stepRef(document._id, index, sha256);
      const content = await this.files.readAll(document.file.object);
      await ask(nats, `parapheur.${c}.flow.start`, {
        id,
        type: definition.type,
        subtype: definition.subtype,
        desk: definition.desk,
        name: `${document.numeroInterne} — ${document.objet}`.slice(0, 250),
        document: { name: document.file.name, mimeType: document.file.mimeType, contentBase64: content.toString("base64") },
        metadata: { numeroInterne: document.numeroInterne },
        flow: { document: document._id, step: index },
      });
      await this.documents.step(document, index, { state: "running", attempts, ref: id, startedAt: new Date() }, { event: "sent into its circuit", detail: id }, { state: "running" });
      log.info({ collectivity: c, document: document._id, folder: id }, "document sent into its circuit");
      return;
    }
    const file = document.signed ?? document.file;
    if (definition.service === "actes") {
      const id = stepRef(document._id, index, sha256);
      const content = await this.files.readAll(file.object);
      await ask(nats, `actes.${c}.flow.submit`, {
        id,
        numeroInterne: document.numeroInterne,
        nature: document.definition.nature,
        classification: document.definition.classification,
        objet: document.objet,
        date: document.date,
        document: { fileName: file.name, mimeType: file.mimeType, contentBase64: content.toString("base64") },
        flow: { document: document._id, step: index },
      });
      await this.documents.step(document, index, { state: "running", attempts, ref: id, startedAt: new Date() }, { event: "transmitted to the prefecture", detail: id }, { state: "running" });
      log.info({ collectivity: c, document: document._id, act: id }, "document transmitted to the prefecture");
      return;
    }
    // Published: after @ctes, as the act the prefecture acknowledged (the publication the actes
    // service may have made already is the same one); without, as an act it does not control.
    const object = file.object;
    const handed = await handOver(nats, `ipl.${c}.file`, this.files.read(object.nuid, object.chunks));
    const acknowledged = document.acknowledgement;
    const published = await ask<{ published: boolean; url?: string; reason?: string }>(nats, `ipl.${c}.publish`, {
      actId: acknowledged?.act ?? stepRef(document._id, index, sha256),
      identifier: acknowledged?.identifier ?? document.numeroInterne,
      numeroInterne: document.numeroInterne,
      nature: document.definition.nature,
      classification: document.definition.classification,
      objet: document.objet,
      date: document.date,
      controlled: Boolean(acknowledged),
      ...(acknowledged?.acknowledgedOn ? { acknowledgedOn: acknowledged.acknowledgedOn } : {}),
      ...(document.signed?.signer ? { author: { name: document.signed.signer.name, ...(document.signed.signer.title ? { role: document.signed.signer.title } : {}) } } : {}),
      file: { ...handed, fileName: file.name, mimeType: file.mimeType },
    });
    if (!published.published) throw new InvalidRequest(published.reason ?? "the publication service did not publish it");
    const updated = await this.documents.step(document, index, { state: "done", attempts, url: published.url!, startedAt: step.startedAt ?? new Date(), endedAt: new Date() }, { event: "published", detail: published.url! });
    await this.next(updated, index);
  }

  /** After a step is done: the next is queued, or the document is done. */
  private async next(document: FlowDocument, index: number): Promise<void> {
    if (index + 1 < document.steps.length) return this.queue(document, index + 1);
    if (document.state !== "done") {
      await this.documents.step(document, index, {}, { event: "flow finished" }, { state: "done" });
      this.context.events.record(document.collectivity, "flow_finished", document._id);
    }
  }

  private async signalled(collectivity: string, s: z.infer<typeof signal>): Promise<void> {
    const document = await this.documents.require(collectivity, s.document);
    const step = document.steps[s.step];
    if (!step) throw new InvalidRequest(`document ${s.document} has no step ${s.step}`);
    // Told twice (a sweep after a lost answer): the next step is queued again, which runs it once.
    if (step.state === "done") return this.next(document, s.step);
    if (step.state === "rejected") return;
    if (s.outcome === "rejected") {
      await this.documents.step(document, s.step, { state: "rejected", reason: s.reason ?? "rejeté", endedAt: new Date() }, { event: "rejected", detail: s.reason ?? "" }, { state: "rejected" });
      this.context.events.record(collectivity, "flow_rejected", document._id);
      return;
    }
    if (step.service === "actes") {
      const updated = await this.documents.step(
        document,
        s.step,
        { state: "done", endedAt: new Date() },
        { event: "acknowledged by the prefecture", detail: s.identifier ?? "" },
        { acknowledgement: { act: s.ref ?? step.ref!, identifier: s.identifier ?? document.numeroInterne, ...(s.acknowledgedOn ? { acknowledgedOn: s.acknowledgedOn } : {}) } },
      );
      return this.next(updated, s.step);
    }
    // Its circuit ended: the signed document is kept for the steps after.
    const signed = await ask<{ name: string; mimeType: string; contentBase64: string; signer?: { name: string; title?: string } }>(this.context.nats, `parapheur.${collectivity}.flow.document`, { id: s.ref ?? step.ref });
    const object = await this.files.put(`${collectivity}/${document._id}/signed-${signed.name}`, Buffer.from(signed.contentBase64, "base64"));
    const updated = await this.documents.step(
      document,
      s.step,
      { state: "done", endedAt: new Date() },
      { event: "signed", detail: signed.signer ? `${signed.signer.name}${signed.signer.title ? `, ${signed.signer.title}` : ""}` : "" },
      { signed: { name: signed.name, mimeType: signed.mimeType, object, ...(signed.signer ? { signer: signed.signer } : {}) } },
    );
    await this.next(updated, s.step);
  }

  /** A step tried its last time: parked, with its reason, for an agent to send again. */
  async park(msg: JsMsg, error: unknown): Promise<void> {
    if (!msg.subject.startsWith("flows.run.")) throw error;
    const collectivity = msg.subject.split(".")[2]!;
    const { document, step } = run.parse(msg.json());
    const found = await this.documents.require(collectivity, document);
    const reason = (error as Error).message;
    await this.documents.step(found, step, { state: "parked", reason, attempts: msg.info.deliveryCount }, { event: "parked", detail: reason }, { state: "parked" });
    this.context.log.warn({ collectivity, document, step, status: statusOf(error) }, "a step was parked: an agent sends it again");
  }

  async requeueStale(since: Date): Promise<void> {
    for (const document of await this.documents.stale(since)) {
      const index = document.steps.findIndex((s) => s.state === "waiting");
      if (index >= 0 && (index === 0 || document.steps[index - 1]!.state === "done")) await this.queue(document, index, document.steps[index]!.attempts);
    }
  }
}

/** A document as the flows answer it: their contract (published, and checked on every answer). */
const documentAnswer = z
  .object({
    id: z.uuid(),
    kind: z.string(),
    numeroInterne: z.string(),
    objet: z.string(),
    state: z.enum(["running", "done", "parked", "rejected"]),
    steps: z.array(
      z.object({
        index: z.number().int(),
        service: z.enum(["parapheur", "actes", "ipl"]),
        state: z.enum(["waiting", "running", "done", "parked", "rejected"]),
        attempts: z.number().int(),
        ref: z.string().optional(),
        url: z.string().optional(),
        reason: z.string().optional(),
        startedAt: z.iso.datetime().optional(),
        endedAt: z.iso.datetime().optional(),
      }),
    ),
    signer: z.object({ name: z.string(), title: z.string().optional(), at: z.string().optional() }).optional(),
    acknowledgement: z.object({ act: z.string(), identifier: z.string(), acknowledgedOn: z.iso.date().optional() }).optional(),
    history: z.array(z.object({ at: z.iso.datetime(), step: z.number().int().optional(), event: z.string(), detail: z.string().optional() })),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .strict();

const documentView = (d: FlowDocument) => ({
  id: d._id,
  kind: d.kind,
  numeroInterne: d.numeroInterne,
  objet: d.objet,
  state: d.state,
  steps: d.steps.map((s, i) => ({ index: i, ...s, startedAt: s.startedAt?.toISOString(), endedAt: s.endedAt?.toISOString() })),
  ...(d.signed?.signer ? { signer: d.signed.signer } : {}),
  ...(d.acknowledgement ? { acknowledgement: d.acknowledgement } : {}),
  history: (d.history ?? []).map((h) => ({ ...h, at: h.at.toISOString() })),
  createdAt: d.createdAt.toISOString(),
  updatedAt: d.updatedAt.toISOString(),
});

function flowEndpoints(context: ServiceContext<FlowsSettings>, files: ObjectFiles): EndpointSpec[] {
  const { database, nats } = context;
  const tenants = new TenantRepository(database, "flows");
  const definitions = new DefinitionRepository(database);
  const documents = new FlowDocumentRepository(database);
  const js = jetstream(nats);
  const administrators = allow.roles("administrateur");
  const agents = allow.roles("agent", "secretaire", "administrateur");
  const by = (caller: { kind: string; email?: string; client?: string }) => caller.email ?? caller.client ?? "?";
  return [
    ...tenantEndpoints("flows", tenants),
    tenantEndpoint({
      name: "definitions-save",
      subject: "tenant.*.flows.definitions.save",
      schema: z.object({ flow: flowDefinition }).strict(),
      answer: z.object({ flow: flowDefinition }).strict(),
      callers: administrators,
      handle: async ({ flow }, { collectivity, caller }) => {
        await tenants.require(collectivity);
        await definitions.save(collectivity, flow, by(caller as never));
        return { flow };
      },
    }),
    tenantEndpoint({
      name: "definitions-list",
      subject: "tenant.*.flows.definitions.list",
      schema: z.object({}).strict().default({}),
      answer: z.object({ flows: z.array(flowDefinition) }).strict(),
      callers: allow.members(),
      handle: async (_request, { collectivity }) => ({ flows: await definitions.list(collectivity) }),
    }),
    tenantEndpoint({
      name: "documents-start",
      subject: "tenant.*.flows.documents.start",
      schema: z
        .object({
          kind: z.string().min(1).max(63),
          numeroInterne: z.string().regex(/^[A-Z0-9_]{1,15}$/, "at most 15 capital letters, digits or underscores, as @ctes numbers acts"),
          objet: z.string().trim().min(1).max(500),
          date: z.iso.date(),
          document: z.object({ name: z.string().trim().min(1).max(200).regex(/^[^/\\\0]+$/), mimeType: z.enum(["application/pdf", "application/xml"]), contentBase64: z.base64() }).strict(),
        })
        .strict(),
      answer: documentAnswer,
      callers: agents,
      handle: async (request, { collectivity, caller }) => {
        await tenants.require(collectivity);
        const definition = await definitions.find(collectivity, request.kind);
        if (!definition) throw new InvalidRequest(`collectivity ${collectivity} has no flow for documents of kind ${request.kind}`);
        const bytes = Buffer.from(request.document.contentBase64, "base64");
        if (bytes.length === 0 || bytes.length > 5 * 1024 * 1024) throw new InvalidRequest(`the document must weigh between 1 byte and 5 MiB (${bytes.length} bytes)`);
        // The same act started twice is the same document: one flow.
        const id = stepRef(`${collectivity}/${request.kind}/${request.numeroInterne}`, 0, sha256);
        const object = await files.put(`${collectivity}/${id}/${request.document.name}`, bytes);
        const now = new Date();
        const document: FlowDocument = {
          _id: id,
          collectivity,
          kind: request.kind,
          definition,
          numeroInterne: request.numeroInterne,
          objet: request.objet,
          date: request.date,
          file: { name: request.document.name, mimeType: request.document.mimeType, object },
          steps: definition.steps.map((s) => ({ service: s.service, state: "waiting", attempts: 0 })),
          state: "running",
          history: [{ at: now, event: "started", detail: by(caller as never) }],
          createdBy: by(caller as never),
          createdAt: now,
          updatedAt: now,
        };
        await documents.insert(document);
        // Lost here (NATS away), the sweep queues it.
        await js.publish(`flows.run.${collectivity}`, JSON.stringify({ document: id, step: 0 }), { msgID: `${id}/0/0`, timeout: 10_000 }).catch(() => undefined);
        return documentView(document);
      },
    }),
    tenantEndpoint({
      name: "documents-get",
      subject: "tenant.*.flows.documents.get",
      schema: z.object({ id: z.uuid() }).strict(),
      answer: documentAnswer,
      callers: allow.members(),
      handle: async ({ id }, { collectivity }) => documentView(await documents.require(collectivity, id)),
    }),
    tenantEndpoint({
      name: "documents-list",
      subject: "tenant.*.flows.documents.list",
      schema: z.object({}).strict().default({}),
      answer: z.object({ documents: z.array(documentAnswer.extend({ history: z.array(z.unknown()) })) }).strict(),
      callers: allow.members(),
      handle: async (_request, { collectivity }) => ({ documents: (await documents.list(collectivity)).map(documentView) }),
    }),
    // A parked step, its cause fixed (a desk created, a service enabled), is sent again.
    tenantEndpoint({
      name: "documents-retry",
      subject: "tenant.*.flows.documents.retry",
      schema: z.object({ id: z.uuid() }).strict(),
      answer: documentAnswer,
      callers: agents,
      handle: async ({ id }, { collectivity, caller }) => {
        const document = await documents.require(collectivity, id);
        const index = document.steps.findIndex((s) => s.state === "parked");
        if (index < 0) throw new NotFound(`document ${id} has no parked step`);
        const updated = await documents.step(document, index, { state: "waiting" }, { event: "sent again", detail: by(caller as never) }, { state: "running" });
        // Its own message id: a step parked, sent again and parked again may be sent again once more.
        await js.publish(`flows.run.${collectivity}`, JSON.stringify({ document: id, step: index }), { msgID: `${id}/${index}/retry-${updated.history.length}`, timeout: 10_000 });
        return documentView(updated);
      },
    }),
  ];
}
