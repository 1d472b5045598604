import { allow, consumeFlow, enableDedicatedTenant, flowSignal, Forbidden, ObjectFiles, PayloadTooLarge, tenantEndpoint, tenantEndpoints, TenantRepository, type EndpointSpec, type FlowConsumer, type ServiceContext, type ServiceDefinition } from "@mutualis/service-kit";
import { z } from "zod";
import { natures } from "./domain/act.ts";
import { actStatuses } from "./domain/statuses.ts";
import { DocumentRepository } from "./documents.ts";
import { ensureStreams, flowNames } from "./flows.ts";
import { answers, letterKinds, letterStatuses } from "./domain/letters.ts";
import { LetterRepository, type Letter } from "./letters.ts";
import { ActRepository, ClassificationRepository, SequenceRepository, type Act, type ExchangeEntry } from "./repository.ts";
import { actesTenantSettings, type ActesSettings } from "./settings.ts";
import { actRequest, type ActRequest } from "./submission.ts";
import { ActesUseCases, type PrefectureReturn } from "./use-cases.ts";
import { uploadChunk, UploadRepository, Uploads, uploadStart, uploadView } from "./uploads.ts";

/** A letter of the prefecture as the collectivity sees it: its kind, status (with S²LOW's code) and history. */
export function letterView(letter: Letter) {
  return {
    id: letter._id.slice(letter.actId.length + 1),
    kind: letter.kind,
    label: letterKinds[letter.kind].label,
    on: letter.on,
    ...(letter.text ? { text: letter.text } : {}),
    documents: letter.documents,
    status: letter.status,
    statusLabel: letterStatuses[letter.status].label,
    s2lowStatus: letterStatuses[letter.status].s2low,
    history: letter.history.map((h) => ({ ...h, at: new Date(h.at).toISOString() })),
  };
}

/** An act as the collectivity sees it. */
export function actView(act: Act) {
  return {
    id: act._id,
    numeroInterne: act.numeroInterne,
    nature: natures[act.nature].label,
    classification: act.classification,
    objet: act.objet,
    date: act.date,
    documentPapier: act.documentPapier ?? false,
    ...(act.precedent ? { precedent: act.precedent } : {}),
    files: [act.document, ...act.annexes].map((f) => ({ fileName: f.fileName, typology: f.typology, size: f.size, sha256: f.sha256, ...(f.signature ? { signed: true } : {}) })),
    ...(act.transmission ? { archive: act.transmission.archive } : {}),
    ...(act.classificationVersion ? { classificationVersion: act.classificationVersion } : {}),
    ...(act.classificationOutdated ? { classificationOutdated: true } : {}),
    ...(act.publication ? { publication: act.publication } : {}),
    status: act.status,
    statusLabel: actStatuses[act.status].label,
    s2lowStatus: actStatuses[act.status].s2low,
    identifier: act.identifier,
    acknowledgedAt: act.acknowledgedAt?.toISOString(),
    reason: act.reason,
    author: act.author?.email,
    history: act.history.map((h) => ({ status: h.status, at: new Date(h.at).toISOString(), ...(h.detail ? { detail: h.detail } : {}) })),
    exchanges: (act.exchanges ?? []).map(({ key: _key, ...e }: ExchangeEntry) => ({ ...e, at: new Date(e.at).toISOString() })),
  };
}

function subjectTenant(collectivity: string | undefined): string {
  if (!collectivity) throw new Forbidden("acts are submitted on a tenant subject, tenant.<collectivity>.actes.…");
  return collectivity;
}

/** The actes service: endpoints on `tenant.<collectivity>.actes.*` and the two durable flows. */
export function actesService(): ServiceDefinition<ActesSettings> {
  let useCases: ActesUseCases;
  let uploads: Uploads;
  const consumers: FlowConsumer[] = [];
  let requeue: NodeJS.Timeout | undefined;
  return {
    description: "Legality control: acts teletransmitted to the prefecture (@ctes)",
    emits: [{ subject: "flows.signal.*", description: "An act a flow submitted was answered by the prefecture: acknowledged (identifier, day) or refused with the reason.", schema: flowSignal }],
    async onStart(context: ServiceContext<ActesSettings>) {
      const flows = flowNames(context.settings.ACTES_STREAM_PREFIX, context.settings.PREFECTURE_SUBJECT);
      const files = await ObjectFiles.open(context.nats, `${context.settings.ACTES_STREAM_PREFIX}_FILES`, {
        replicas: context.settings.NATS_STREAM_REPLICAS,
        maxBytes: context.settings.ACTES_FILES_MAX_BYTES,
      });
      uploads = new Uploads(new UploadRepository(context.database), files);
      useCases = new ActesUseCases({
        settings: context.settings,
        nats: context.nats,
        acts: new ActRepository(context.database),
        tenants: new TenantRepository(context.database, "actes", actesTenantSettings),
        documents: new DocumentRepository(context.database),
        sequences: new SequenceRepository(context.database),
        classifications: new ClassificationRepository(context.database),
        letters: new LetterRepository(context.database),
        uploads,
        files,
        flows,
        metrics: context.metrics,
        events: context.events,
        log: context.log,
      });
      await enableDedicatedTenant(context.settings, new TenantRepository(context.database, "actes", actesTenantSettings));
      await ensureStreams(context.nats, flows, context.settings.NATS_STREAM_REPLICAS, context.settings.ACTES_STREAM_MAX_BYTES);
      const recovered = await useCases.recoverUnsent();
      if (recovered > 0) context.log.info({ recovered }, "queued again the acts an interrupted run had not sent");
      consumers.push(
        await consumeFlow(
          context.nats,
          flows.transmissions,
          (msg) => {
            const { actId, step } = msg.json<{ actId: string; step?: "publish" }>();
            return step === "publish" ? useCases.publish(actId) : useCases.transmit(actId);
          },
          context.log,
          // Acts are independent of one another: several are transmitted at once.
          { durable: "actes", concurrency: context.settings.ACTES_TRANSMISSION_CONCURRENCY },
        ),
        await consumeFlow(context.nats, flows.returns, (msg) => useCases.receive(msg.json<PrefectureReturn>()), context.log, { durable: "actes" }),
      );
      // An act whose queueing failed while NATS was away is queued again once NATS is back.
      const every = context.settings.ACTES_REQUEUE_AFTER_SECONDS * 1000;
      requeue = setInterval(() => {
        useCases.requeueStale(new Date(Date.now() - every)).then(
          (n) => n > 0 && context.log.info({ requeued: n }, "queued again the acts whose queueing had failed"),
          (error: unknown) => context.log.warn({ reason: (error as Error).message }, "acts waiting to be queued could not be queued yet"),
        );
        // The flows not told the prefecture's answer (NATS was away) are told now.
        useCases.signalFlows().catch((error: unknown) => context.log.warn({ reason: (error as Error).message }, "flows not told yet: will try again"));
      }, every);
    },
    async onStop() {
      clearInterval(requeue);
      for (const consumer of consumers) await consumer.close();
    },
    endpoints: (context) => {
      const tenants = new TenantRepository(context.database, "actes", actesTenantSettings);
      const acts = new ActRepository(context.database);
      /** Every tenant operation is for an enabled collectivity only. */
      const tenantOf = async (collectivity: string | undefined) => {
        const name = subjectTenant(collectivity);
        await tenants.require(name);
        return name;
      };
      const endpoints: EndpointSpec[] = [
        // The flows service submits a signed act for a collectivity, on the collectivity's own
        // platform subject that only it may call; the act's id is the flow's, so a retry finds it.
        {
          name: "flow-submit",
          subject: "actes.*.flow.submit",
          callers: allow.platform(),
          schema: actRequest.extend({ id: z.uuid(), flow: z.object({ document: z.string().min(1).max(100), step: z.number().int().min(0).max(10) }).strict() }),
          handle: async (request, { subject }) => {
            const { id, flow, ...act } = request as ActRequest & { id: string; flow: { document: string; step: number } };
            const author = { kind: "user" as const, subject: "flux", email: "flux", memberships: {} };
            return actView(await useCases.submit(await tenantOf(subject.split(".")[1]!), act, author, { id, ...flow }));
          },
        },
        tenantEndpoint({
          name: "submit",
          subject: "tenant.*.actes.submit",
          schema: actRequest,
          // A person submits an act, as @ctes's agents do: it is theirs to follow and to cancel.
          callers: allow.roles("agent", "secretaire", "administrateur"),
          handle: async (request, { collectivity, caller }) => {
            if (caller.kind !== "user") throw new Forbidden("an act is submitted by a person");
            return actView(await useCases.submit(await tenantOf(collectivity), request, caller));
          },
        }),
        // A file larger than one message (up to the 150 MB @ctes allows an act) is uploaded in
        // parts by the person who submits the act, then named by it; only they see or use it.
        tenantEndpoint({
          name: "upload-start",
          subject: "tenant.*.actes.uploads.start",
          schema: uploadStart,
          callers: allow.roles("agent", "secretaire", "administrateur"),
          handle: async (request, { collectivity, caller }) => uploadView(await uploads.start(await tenantOf(collectivity), caller, request)),
        }),
        tenantEndpoint({
          name: "upload-chunk",
          subject: "tenant.*.actes.uploads.chunk",
          schema: uploadChunk,
          callers: allow.roles("agent", "secretaire", "administrateur"),
          handle: async (request, { collectivity, caller }) => uploadView(await uploads.chunk(await tenantOf(collectivity), caller, request)),
        }),
        tenantEndpoint({
          name: "upload-finish",
          subject: "tenant.*.actes.uploads.finish",
          schema: z.object({ id: z.uuid() }),
          callers: allow.roles("agent", "secretaire", "administrateur"),
          handle: async ({ id }, { collectivity, caller }) => uploadView(await uploads.finish(await tenantOf(collectivity), caller, id)),
        }),
        tenantEndpoint({
          name: "upload-get",
          subject: "tenant.*.actes.uploads.get",
          schema: z.object({ id: z.uuid() }),
          callers: allow.roles("agent", "secretaire", "administrateur"),
          handle: async ({ id }, { collectivity, caller }) => uploadView(await uploads.owned(await tenantOf(collectivity), caller, id)),
        }),
        tenantEndpoint({
          name: "get",
          subject: "tenant.*.actes.get",
          schema: z.object({ id: z.uuid() }),
          callers: allow.members(),
          handle: async ({ id }, { collectivity }) => actView(await acts.get(await tenantOf(collectivity), id)),
        }),
        tenantEndpoint({
          name: "list",
          subject: "tenant.*.actes.list",
          schema: z.unknown(),
          callers: allow.members(),
          handle: async (_request, { collectivity }) => (await acts.list(await tenantOf(collectivity))).map(actView),
        }),
        tenantEndpoint({
          name: "letters",
          subject: "tenant.*.actes.letters",
          schema: z.object({ id: z.uuid() }),
          callers: allow.members(),
          handle: async ({ id }, { collectivity }) => {
            const name = await tenantOf(collectivity);
            await acts.get(name, id);
            return (await useCases.letters(name, id)).map(letterView);
          },
        }),
        tenantEndpoint({
          name: "answer-letter",
          subject: "tenant.*.actes.letters.answer",
          schema: z.object({
            id: z.uuid(),
            letter: z.string().min(1).max(200),
            answer: z.enum(Object.keys(answers) as [keyof typeof answers, ...(keyof typeof answers)[]]),
            documents: z.array(z.object({ fileName: z.string().min(1).max(255), contentBase64: z.string().min(1) })).max(20).default([]),
          }),
          // The people who submit acts answer the prefecture about them.
          callers: allow.roles("agent", "secretaire", "administrateur"),
          handle: async ({ id, letter, answer, documents }, { collectivity }) => {
            const contents = documents.map((d) => Buffer.from(d.contentBase64, "base64"));
            const tooLarge = contents.findIndex((c) => c.length > context.settings.ACTES_MAX_FILE_BYTES);
            if (tooLarge >= 0) throw new PayloadTooLarge(`${documents[tooLarge]!.fileName} is larger than ${context.settings.ACTES_MAX_FILE_BYTES} bytes`);
            return letterView(await useCases.answerLetter(await tenantOf(collectivity), id, `${id}/${letter}`, answer, contents));
          },
        }),
        tenantEndpoint({
          name: "classification",
          subject: "tenant.*.actes.classification",
          schema: z.unknown(),
          // Every member reads the matières and typologies an act may have.
          callers: allow.members(),
          handle: async (_request, { collectivity }) => useCases.classificationOf(await tenantOf(collectivity)),
        }),
        tenantEndpoint({
          name: "cancel",
          subject: "tenant.*.actes.cancel",
          schema: z.object({ id: z.uuid() }),
          // Its author or an administrator: the use case checks which.
          callers: allow.members(),
          handle: async ({ id }, { collectivity, caller }) => actView(await useCases.requestCancellation(await tenantOf(collectivity), id, caller)),
        }),
        ...tenantEndpoints("actes", tenants),
      ];
      return endpoints;
    },
  };
}
