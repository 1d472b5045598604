import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  allow,
  baseSettings,
  ConfigError,
  Conflict,
  Forbidden,
  InvalidRequest,
  isAdministrator,
  NotFound,
  ObjectFiles,
  PayloadTooLarge,
  flowSignal,
  isDuplicateKey,
  Repository,
  ServiceError,
  statusOf,
  tenantEndpoint,
  tenantEndpoints,
  TenantRepository,
  Unavailable,
  type Caller,
  type Database,
  type EndpointSpec,
  type ServiceContext,
  type ServiceDefinition,
  type Tenant,
  type UserCaller,
} from "@mutualis/service-kit";
import { jetstream } from "@nats-io/jetstream";
import { z } from "zod";
import { approve, askSecondOpinion, begin, bypass, CircuitError, current, decided, deskId, desksOf, reject, rejectionOf, stateFor, transfer, type Progress } from "./domain/circuit.ts";
import { deskDefinition, delegation, desksOfPerson, standingFor, type Desk, type DeskDefinition } from "./domain/desks.ts";
import { evidenceBundle, extensionOf } from "./domain/evidence.ts";
import type { KeyAndCertificate } from "./domain/pki.ts";
import { signDocument, SigningError } from "./domain/signing.ts";
import { typeDefinition, type TypeDefinition } from "./domain/typology.ts";
import { DefinitionRepository, FolderRepository, type DocumentSignature, type Folder, type FolderDocument, type HistoryEntry, type StoredFile } from "./folders.ts";
import { answers } from "./answers.ts";
import { certificateView, KeyStore } from "./keystore.ts";

export const parapheurSettings = baseSettings.extend({
  /** A file holding the master key (32 bytes, base64) from which each collectivity's key sealing its private keys is derived. */
  PARAPHEUR_MASTER_KEY_FILE: z.string().min(1),
  /** The most one document may weigh. */
  PARAPHEUR_DOCUMENT_MAX_BYTES: z.coerce.number().int().positive().default(5 * 1024 * 1024),
  /** How often the flows whose folders ended, and were not told, are told again. */
  PARAPHEUR_FLOW_SWEEP_SECONDS: z.coerce.number().int().positive().default(30),
  /** The most the object store of documents and signatures holds. */
  PARAPHEUR_FILES_MAX_BYTES: z.coerce.number().int().positive().default(1024 ** 3),
});
export type ParapheurSettings = z.infer<typeof parapheurSettings>;

function masterKeyOf(file: string): Buffer {
  let key: Buffer;
  try {
    key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  } catch {
    throw new ConfigError(`invalid settings: PARAPHEUR_MASTER_KEY_FILE cannot be read (${file})`);
  }
  if (key.length !== 32) throw new ConfigError("invalid settings: PARAPHEUR_MASTER_KEY_FILE must hold 32 bytes in base64");
  return key;
}

const day = (at: Date) => at.toLocaleDateString("sv-SE", { timeZone: "Europe/Paris" });
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const folderId = z.uuid();
const reason = z.string().trim().min(1, "a reason is needed").max(1000);

const documentInput = z
  .object({
    name: z.string().trim().min(1).max(200).regex(/^[^/\\\0]+$/, "a file name, without a path"),
    mimeType: z.enum(["application/pdf", "application/xml", "text/xml", "application/vnd.oasis.opendocument.text", "application/octet-stream"]),
    contentBase64: z.base64(),
  })
  .strict();

/** A document a flow sends into a circuit: its folder's id is the flow's, so that sending it twice makes one folder. */
const flowStart = z
  .object({
    id: z.uuid(),
    type: deskId,
    subtype: deskId,
    desk: deskId,
    name: z.string().trim().min(1).max(250),
    document: documentInput,
    metadata: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/), z.string().max(1000)).default({}),
    dueDate: z.iso.date().optional(),
    flow: z.object({ document: z.string().min(1).max(100), step: z.number().int().min(0).max(10) }).strict(),
  })
  .strict();

const createFolder = z
  .object({
    type: deskId,
    subtype: deskId,
    name: z.string().trim().min(1).max(250),
    /** The desk it is sent from: one the caller owns or is secretary of. */
    desk: deskId,
    documents: z.array(documentInput).min(1).max(20),
    metadata: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/), z.string().max(1000)).default({}),
    dueDate: z.iso.date().optional(),
    /** Sent into its circuit at once, rather than kept as a draft. */
    start: z.boolean().default(false),
  })
  .strict();

const person = (caller: Caller): UserCaller => {
  if (caller.kind !== "user") throw new Forbidden("only a person acts on folders");
  return caller;
};

/** An error of the circuit as the API answers it: 409 when the folder is not where the action needs it, 403 when the desk has no say. */
function circuitStep<T>(change: () => T): T {
  try {
    return change();
  } catch (error) {
    if (error instanceof CircuitError) throw error.kind === "desk" ? new Forbidden(error.message) : new Conflict(error.message);
    throw error;
  }
}

/** The desks the current step still waits for. */
function waitingFor(progress: Progress): string[] {
  const now = current(progress);
  if (!now) return [];
  return now.step.desks.filter((desk) => !decided(now.step, desk));
}

/**
 * Confirmations of a second factor already used: each signs once. A confirmation lives two
 * minutes, so one used an hour ago is forgotten (FerretDB has no TTL index: swept as it goes).
 */
class UsedConfirmations extends Repository<{ _id: string; usedAt: Date }> {
  constructor(database: Database) {
    super(database, "used_confirmations");
  }
  async use(id: string): Promise<void> {
    try {
      await this.collection.insertOne({ _id: id, usedAt: new Date() });
    } catch {
      throw new Forbidden("this second factor's confirmation was used already: confirm again");
    }
    await this.collection.deleteMany({ usedAt: { $lt: new Date(Date.now() - 3_600_000) } });
  }
}

/**
 * The electronic parapheur (lot 1): per collectivity, desks with their owners, secretaries and
 * delegations; types and subtypes with their circuits (visas, signatures, the collectivity's
 * seal, steps several desks take with a quorum); folders that go through them with iParapheur's
 * states, signed for real (PAdES, CAdES, XAdES) with certificates of the collectivity's own
 * authority, a signature confirmed by the signer's second factor; an evidence bundle per
 * finished folder that standard tools check.
 */
export function parapheurService(options: { readonly now?: () => Date } = {}): ServiceDefinition<ParapheurSettings> {
  const now = options.now ?? (() => new Date());
  let files: ObjectFiles;
  let keys: KeyStore;
  let sweeper: NodeJS.Timeout | undefined;
  return {
    description: "Parapheur: signature circuits with real signatures, per collectivity",
    emits: [
      { subject: "flows.signal.*", description: "A folder a flow sent has ended: finished, or rejected with the reason.", schema: flowSignal },
      { subject: "events.*.parapheur.*", description: "A business event: folder_finished, folder_rejected, step_bypassed.", schema: z.object({ id: z.string(), value: z.number() }).loose() },
    ],
    async onStart(context) {
      files = await ObjectFiles.open(context.nats, "PARAPHEUR_FILES", { replicas: context.settings.NATS_STREAM_REPLICAS, maxBytes: context.settings.PARAPHEUR_FILES_MAX_BYTES });
      keys = new KeyStore(context.database, masterKeyOf(context.settings.PARAPHEUR_MASTER_KEY_FILE));
      await keys.ensureIndexes();
      const folders = new FolderRepository(context.database);
      await folders.ensureIndexes();
      // A flow not told that its folder ended (NATS was away) is told again.
      sweeper = setInterval(() => {
        void (async () => {
          for (const folder of await folders.unsignalled()) await signalFlowOf(context, folder);
        })().catch((error: unknown) => context.log.warn({ err: error }, "flows not told yet: will try again"));
      }, context.settings.PARAPHEUR_FLOW_SWEEP_SECONDS * 1000);
    },
    async onStop() {
      clearInterval(sweeper);
    },
    endpoints(context) {
      return parapheurEndpoints(context, files, keys, now);
    },
  };
}

function parapheurEndpoints(context: ServiceContext<ParapheurSettings>, files: ObjectFiles, keys: KeyStore, now: () => Date): EndpointSpec[] {
  const { database, settings, log, metrics, events } = context;
  const tenants = new TenantRepository(database, "parapheur");
  const folders = new FolderRepository(database);
  const desks = new DefinitionRepository<DeskDefinition>(database, "desks");
  const types = new DefinitionRepository<TypeDefinition>(database, "types");
  const confirmations = new UsedConfirmations(database);
  const actions = metrics.businessCounter("mutualis_parapheur_actions_total", "Actions on folders (visa, signature, seal, rejection, bypass), per collectivity and kind.", ["kind"]);
  const finished = metrics.businessCounter("mutualis_parapheur_folders_finished_total", "Folders at the end of their circuit, per collectivity and outcome.", ["outcome"]);

  const desksOfCollectivity = async (collectivity: string): Promise<Desk[]> => (await desks.list(collectivity)).map((d) => ({ ...d, collectivity }));
  const late = (folder: Pick<Folder, "progress" | "dueDate">) => folder.progress.state === "PENDING" && folder.dueDate !== undefined && day(now()) > folder.dueDate;
  const stateOf = (folder: Pick<Folder, "progress" | "dueDate">) => (late(folder) ? "LATE" : folder.progress.state);

  /** Who may see a folder: its collectivity's administrators, its emitter, and the people of the desks it passes. */
  const visibleTo = (folder: Folder, caller: Caller, all: Desk[]): boolean => {
    if (isAdministrator(caller, folder.collectivity)) return true;
    if (caller.kind !== "user") return false;
    if (folder.emitter.by === caller.email.toLowerCase()) return true;
    const mine = desksOfPerson(all, caller.email, now());
    return [...mine.owned, ...mine.delegating, ...mine.secretary].some((desk) => folder.desks.includes(desk));
  };
  const readable = async (collectivity: string, id: string, caller: Caller): Promise<Folder> => {
    const folder = await folders.require(collectivity, id);
    // Another desk's folder is not even said to exist.
    if (!visibleTo(folder, caller, await desksOfCollectivity(collectivity))) throw new NotFound(`no folder ${id} in collectivity ${collectivity}`);
    return folder;
  };

  const summary = (folder: Folder, forDesks: readonly string[] = []) => {
    const step = current(folder.progress);
    const rejection = rejectionOf(folder.progress);
    return {
      id: folder._id,
      name: folder.name,
      type: folder.type,
      subtype: folder.subtype,
      state: stateOf(folder),
      ...(forDesks.length ? { deskStates: Object.fromEntries(forDesks.map((d) => [d, stateFor(folder.progress, d, late(folder))]).filter(([, s]) => s)) } : {}),
      emitter: folder.emitter,
      ...(folder.dueDate ? { dueDate: folder.dueDate } : {}),
      ...(step ? { currentStep: { index: step.index, type: step.step.type, waitingFor: folder.waitingFor, quorum: step.step.quorum } } : {}),
      ...(rejection ? { rejection: { by: rejection.by, desk: rejection.desk, reason: rejection.reason, at: rejection.at.toISOString() } } : {}),
      /** The emitter may take it back while no one has acted on it yet (iParapheur's RETRIEVABLE). */
      retrievable: retrievable(folder),
      createdAt: folder.createdAt.toISOString(),
      updatedAt: folder.updatedAt.toISOString(),
      ...(folder.finishedAt ? { finishedAt: folder.finishedAt.toISOString() } : {}),
    };
  };
  const detail = (folder: Folder) => ({
    ...summary(folder),
    protocol: folder.protocol,
    signatureFormat: folder.signatureFormat,
    metadata: folder.metadata,
    steps: folder.progress.steps.map((step) => ({
      type: step.type,
      desks: step.desks,
      quorum: step.quorum,
      state: step.state,
      actions: step.actions.map((a) => ({ ...a, at: a.at.toISOString() })),
    })),
    documents: folder.documents.map((d, index) => ({
      index,
      name: d.name,
      mimeType: d.mimeType,
      size: d.original.size,
      sha256: d.original.sha256,
      ...(d.latest ? { signedSha256: d.latest.sha256 } : {}),
      signatures: d.signatures.map((s) => ({ by: s.by, commonName: s.commonName, certificate: s.certificate, at: s.at.toISOString(), format: s.format, kind: s.kind, sha256: s.file.sha256 })),
    })),
    history: folder.history.map((h) => ({ ...h, at: h.at.toISOString() })),
  });

  const tenantOf = (collectivity: string): Promise<Tenant> => tenants.require(collectivity);
  const store = async (collectivity: string, folder: string, name: string, bytes: Buffer): Promise<StoredFile> => {
    const object = await files.put(`${collectivity}/${folder}/${name}`, bytes);
    return { object, size: object.size, sha256: object.sha256 };
  };

  const entry = (folder: Folder, progress: Progress, fields: Omit<HistoryEntry, "state">): HistoryEntry => ({ ...fields, state: progress.state === "PENDING" && late({ progress, dueDate: folder.dueDate }) ? "LATE" : progress.state });

  /**
   * Signs every document of the folder with `key` (a signer's, or the seal's), in the folder's
   * format, and stores what it makes; returns the documents as they now are.
   */
  const signAll = async (folder: Folder, key: KeyAndCertificate, chain: string[], who: { name: string; title?: string; email: string; certificate: string; kind: "signature" | "seal" }, at: Date, tenant: Tenant): Promise<FolderDocument[]> => {
    const signed: FolderDocument[] = [];
    for (const [index, document] of folder.documents.entries()) {
      const original = await files.readAll(document.original.object);
      const latest = document.latest ? await files.readAll(document.latest.object) : original;
      let made;
      try {
        made = await signDocument(folder.signatureFormat, document.mimeType, original, latest, key, chain, at, {
          name: who.name,
          reason: who.kind === "seal" ? `Cachet de ${tenant.displayName}` : `Signé par ${who.name}`,
          location: tenant.displayName,
        });
      } catch (error) {
        if (error instanceof SigningError) throw new InvalidRequest(`document ${document.name} cannot be signed: ${error.message}`);
        throw error;
      }
      const n = document.signatures.length + 1;
      const file = made.document
        ? await store(folder.collectivity, folder._id, `${index}-signed-${n}-${document.name}`, made.document)
        : await store(folder.collectivity, folder._id, `${index}-signature-${n}.p7s`, made.detached!);
      const signature: DocumentSignature = { by: who.email, commonName: who.name, ...(who.title ? { title: who.title } : {}), certificate: who.certificate, at, format: made.format, file, kind: who.kind };
      signed.push({ ...document, ...(made.document ? { latest: file } : {}), signatures: [...document.signatures, signature] });
    }
    return signed;
  };

  /**
   * Saves a change of the circuit, then applies the seal while the current step is the
   * collectivity's seal: the platform signs with it, no person needed.
   */
  const advance = async (folder: Folder, change: Partial<Folder> & { progress: Progress }): Promise<Folder> => {
    let saved = await folders.save(folder, finishing(change));
    while (current(saved.progress)?.step.type === "SEAL") {
      const tenant = await tenantOf(saved.collectivity);
      const { ca, seal } = await keys.authority(tenant);
      const at = now();
      const documents = await signAll(saved, seal, [ca.certificatePem], { name: `Cachet de ${tenant.displayName}`, email: "plateforme", certificate: "cachet", kind: "seal" }, at, tenant);
      const progress = approve(saved.progress, { kind: "seal", by: "plateforme", at });
      const index = current(saved.progress)!.index;
      saved = await folders.save(saved, finishing({ progress, documents, history: [...saved.history, entry(saved, progress, { at, by: "plateforme", action: "seal", step: index, hashes: documents.map((d) => d.signatures.at(-1)!.file.sha256) })] }));
      actions.inc({ collectivity: saved.collectivity, kind: "seal" });
    }
    if (saved.progress.state === "FINISHED" || saved.progress.state === "REJECTED") {
      if (saved.flow) await signalFlow(saved);
      finished.inc({ collectivity: saved.collectivity, outcome: saved.progress.state.toLowerCase() });
      events.record(saved.collectivity, saved.progress.state === "FINISHED" ? "folder_finished" : "folder_rejected", saved._id, 1, now());
    }
    return saved;
  };
  const finishing = (change: Partial<Folder> & { progress: Progress }): Partial<Folder> => ({
    ...change,
    waitingFor: waitingFor(change.progress),
    ...(change.progress.state === "FINISHED" || change.progress.state === "REJECTED" ? { finishedAt: now() } : {}),
  });

  /** The caller's standing for the current step of a folder: a desk they own, or one delegated to them now. */
  const standing = async (folder: Folder, caller: UserCaller) => {
    const step = current(folder.progress);
    if (!step) throw new Conflict(`the folder is ${stateOf(folder).toLowerCase()}: nothing is waiting`);
    const found = standingFor(await desksOfCollectivity(folder.collectivity), caller.email, waitingFor(folder.progress), now());
    if ("refused" in found) throw new Forbidden(found.refused);
    return { step, ...found };
  };

  const members = allow.members();
  const administrators = allow.roles("administrateur");
  const signalFlow = (folder: Folder) => signalFlowOf(context, folder);

  return [
    ...tenantEndpoints("parapheur", tenants),

    // The flows service sends a document into a circuit, and reads it back once signed: on the
    // collectivity's own platform subjects, which only the flows service may call.
    {
      name: "flow-start",
      answer: answers.summary,
      subject: "parapheur.*.flow.start",
      callers: allow.platform(),
      schema: flowStart,
      handle: async (request, { subject }) => {
        const collectivity = subject.split(".")[1]!;
        const r = request as z.output<typeof flowStart>;
        const existing = await folders.find(collectivity, r.id);
        if (existing) return summary(existing);
        await tenantOf(collectivity);
        const type = await types.find(collectivity, r.type);
        const subtype = type?.subtypes.find((st) => st.id === r.subtype);
        if (!type || !subtype) throw new InvalidRequest(`no subtype ${r.subtype} of type ${r.type} in collectivity ${collectivity}`);
        if (!(await desks.find(collectivity, r.desk))) throw new InvalidRequest(`no desk ${r.desk} in collectivity ${collectivity}`);
        const bytes = Buffer.from(r.document.contentBase64, "base64");
        if (bytes.length > settings.PARAPHEUR_DOCUMENT_MAX_BYTES) throw new PayloadTooLarge(`document ${r.document.name} weighs ${bytes.length} bytes: at most ${settings.PARAPHEUR_DOCUMENT_MAX_BYTES}`);
        const at = now();
        const folder: Folder = {
          _id: r.id,
          collectivity,
          name: r.name,
          type: type.id,
          subtype: subtype.id,
          protocol: type.protocol,
          signatureFormat: type.signatureFormat,
          emitter: { desk: r.desk, by: "flux" },
          circuit: subtype.circuit,
          progress: { state: "DRAFT", steps: [] },
          waitingFor: [],
          desks: [...new Set([r.desk, ...desksOf(subtype.circuit)])],
          documents: [{ name: r.document.name, mimeType: r.document.mimeType, original: await store(collectivity, r.id, `0-original-${r.document.name}`, bytes), signatures: [] }],
          metadata: r.metadata,
          ...(r.dueDate ? { dueDate: r.dueDate } : {}),
          flow: { document: r.flow.document, step: r.flow.step, signalled: false },
          history: [{ at, by: "flux", action: "created", desk: r.desk, state: "DRAFT" }],
          createdAt: at,
          updatedAt: at,
          version: 0,
        };
        try {
          await folders.insert(folder);
        } catch (error) {
          // The same request twice at once: the first made it.
          if (isDuplicateKey(error)) return summary(await folders.require(collectivity, r.id));
          throw error;
        }
        const progress = begin(folder.circuit);
        return summary(await advance(folder, { progress, history: [...folder.history, entry(folder, progress, { at, by: "flux", action: "started", desk: r.desk })] }));
      },
    },
    {
      name: "flow-document",
      answer: answers.flowDocument,
      subject: "parapheur.*.flow.document",
      callers: allow.platform(),
      schema: z.object({ id: folderId }).strict(),
      handle: async (request, { subject }) => {
        const folder = await folders.require(subject.split(".")[1]!, (request as { id: string }).id);
        if (folder.progress.state !== "FINISHED") throw new Conflict(`folder ${folder._id} is ${stateOf(folder).toLowerCase()}`);
        const document = folder.documents[0]!;
        const signer = document.signatures.filter((x) => x.kind === "signature").at(-1);
        const file = document.latest ?? document.original;
        return {
          name: document.name,
          mimeType: document.mimeType,
          sha256: file.sha256,
          contentBase64: (await files.readAll(file.object)).toString("base64"),
          ...(signer ? { signer: { name: signer.commonName, ...(signer.title ? { title: signer.title } : {}), at: signer.at.toISOString() } } : {}),
          detachedBase64: document.signatures.filter((x) => x.format === "PKCS7").length ? (await files.readAll(document.signatures.filter((x) => x.format === "PKCS7").at(-1)!.file.object)).toString("base64") : undefined,
        };
      },
    },

    // Desks and types: the collectivity's administrators set them up; every member reads them.
    tenantEndpoint({
      name: "desks-save",
      answer: answers.desk,
      subject: "tenant.*.parapheur.desks.save",
      schema: z.object({ desk: deskDefinition }).strict(),
      callers: administrators,
      handle: async ({ desk }, { collectivity, caller }) => {
        await tenantOf(collectivity);
        const known = new Set((await desks.list(collectivity)).map((d) => d.id));
        const unknown = desk.delegations.map((d) => d.to).filter((to) => !known.has(to));
        if (unknown.length) throw new InvalidRequest(`the desk delegates to desks that do not exist: ${unknown.join(", ")}`);
        await desks.save(collectivity, desk, person(caller).email);
        return { desk };
      },
    }),
    tenantEndpoint({
      name: "desks-list",
      answer: answers.desks,
      subject: "tenant.*.parapheur.desks.list",
      schema: z.object({}).strict().default({}),
      callers: members,
      handle: async (_request, { collectivity }) => ({ desks: await desks.list(collectivity) }),
    }),
    tenantEndpoint({
      name: "desks-delegate",
      answer: answers.desk,
      subject: "tenant.*.parapheur.desks.delegate",
      schema: z.object({ desk: deskId, delegations: z.array(delegation).max(20) }).strict(),
      callers: members,
      handle: async ({ desk: id, delegations }, { collectivity, caller }) => {
        const desk = await desks.find(collectivity, id);
        if (!desk) throw new NotFound(`no desk ${id} in collectivity ${collectivity}`);
        const who = person(caller);
        if (!desk.owners.includes(who.email.toLowerCase()) && !isAdministrator(caller, collectivity)) throw new Forbidden(`only the owners of desk ${id} (or an administrator) set its delegations`);
        const known = new Set((await desks.list(collectivity)).map((d) => d.id));
        for (const d of delegations) {
          if (d.to === id) throw new InvalidRequest("a desk cannot delegate to itself");
          if (!known.has(d.to)) throw new InvalidRequest(`no desk ${d.to} to delegate to`);
        }
        const updated = { ...desk, delegations };
        await desks.save(collectivity, updated, who.email);
        log.info({ collectivity, desk: id, delegations: delegations.map((d) => ({ to: d.to, from: d.from.toISOString(), until: d.until.toISOString() })) }, "delegations set");
        return { desk: updated };
      },
    }),
    tenantEndpoint({
      name: "types-save",
      answer: answers.type,
      subject: "tenant.*.parapheur.types.save",
      schema: z.object({ type: typeDefinition }).strict(),
      callers: administrators,
      handle: async ({ type }, { collectivity, caller }) => {
        await tenantOf(collectivity);
        const known = new Set((await desks.list(collectivity)).map((d) => d.id));
        const unknown = [...new Set(type.subtypes.flatMap((s) => desksOf(s.circuit)))].filter((d) => !known.has(d));
        if (unknown.length) throw new InvalidRequest(`the circuits name desks that do not exist: ${unknown.join(", ")}`);
        await types.save(collectivity, type, person(caller).email);
        return { type };
      },
    }),
    tenantEndpoint({
      name: "types-list",
      answer: answers.types,
      subject: "tenant.*.parapheur.types.list",
      schema: z.object({}).strict().default({}),
      callers: members,
      handle: async (_request, { collectivity }) => ({ types: await types.list(collectivity) }),
    }),

    // Certificates: the collectivity's authority issues them to its signers; an administrator revokes.
    tenantEndpoint({
      name: "certificates-issue",
      answer: answers.certificate,
      subject: "tenant.*.parapheur.certificates.issue",
      schema: z.object({ email: z.email(), commonName: z.string().trim().min(1).max(64), title: z.string().trim().min(1).max(64).optional() }).strict(),
      callers: administrators,
      handle: async ({ email, commonName, title }, { collectivity, caller }) => {
        const record = await keys.issue(await tenantOf(collectivity), email, { commonName, ...(title ? { title } : {}) }, person(caller).email);
        log.info({ collectivity, serial: record._id, email: record.email }, "signing certificate issued");
        return certificateView(record);
      },
    }),
    tenantEndpoint({
      name: "certificates-revoke",
      answer: answers.certificate,
      subject: "tenant.*.parapheur.certificates.revoke",
      schema: z.object({ serial: z.string().regex(/^[0-9a-f]{2,40}$/), reason }).strict(),
      callers: administrators,
      handle: async ({ serial, reason: why }, { collectivity, caller }) => {
        const record = await keys.revoke(collectivity, serial, person(caller).email, why);
        log.warn({ collectivity, serial, email: record.email, by: record.revokedBy }, "signing certificate revoked");
        return certificateView(record);
      },
    }),
    tenantEndpoint({
      name: "certificates-list",
      answer: answers.certificates,
      subject: "tenant.*.parapheur.certificates.list",
      schema: z.object({}).strict().default({}),
      callers: administrators,
      handle: async (_request, { collectivity }) => ({ certificates: (await keys.list(collectivity)).map(certificateView) }),
    }),
    tenantEndpoint({
      name: "authority",
      answer: answers.authority,
      subject: "tenant.*.parapheur.authority",
      schema: z.object({}).strict().default({}),
      callers: members,
      handle: async (_request, { collectivity }) => {
        const tenant = await tenantOf(collectivity);
        const { ca, seal } = await keys.authority(tenant);
        return { certificatePem: ca.certificatePem, sealCertificatePem: seal.certificatePem, revocationListPem: await keys.revocationList(tenant) };
      },
    }),

    // Folders.
    tenantEndpoint({
      name: "folders-create",
      answer: answers.folder,
      subject: "tenant.*.parapheur.folders.create",
      schema: createFolder,
      callers: members,
      handle: async (request, { collectivity, caller }) => {
        const who = person(caller);
        await tenantOf(collectivity);
        const all = await desksOfCollectivity(collectivity);
        const mine = desksOfPerson(all, who.email, now());
        if (!mine.owned.includes(request.desk) && !mine.secretary.includes(request.desk)) throw new Forbidden(`you are neither an owner nor a secretary of desk ${request.desk}`);
        const type = await types.find(collectivity, request.type);
        const subtype = type?.subtypes.find((s) => s.id === request.subtype);
        if (!type || !subtype) throw new InvalidRequest(`no subtype ${request.subtype} of type ${request.type} in collectivity ${collectivity}`);
        if (!subtype.multiDocuments && request.documents.length > 1) throw new InvalidRequest(`subtype ${subtype.id} takes one document`);
        if (request.dueDate && request.dueDate < day(now())) throw new InvalidRequest(`the due date ${request.dueDate} is past`);
        const id = randomUUID();
        const documents: FolderDocument[] = [];
        for (const [index, d] of request.documents.entries()) {
          const bytes = Buffer.from(d.contentBase64, "base64");
          if (bytes.length > settings.PARAPHEUR_DOCUMENT_MAX_BYTES) throw new PayloadTooLarge(`document ${d.name} weighs ${bytes.length} bytes: at most ${settings.PARAPHEUR_DOCUMENT_MAX_BYTES}`);
          if (bytes.length === 0) throw new InvalidRequest(`document ${d.name} is empty`);
          if (d.mimeType === "application/pdf" && !bytes.subarray(0, 1024).toString("latin1").includes("%PDF-")) throw new InvalidRequest(`document ${d.name} is not a PDF`);
          documents.push({ name: d.name, mimeType: d.mimeType, original: await store(collectivity, id, `${index}-original-${d.name}`, bytes), signatures: [] });
        }
        const at = now();
        const draft: Progress = { state: "DRAFT", steps: [] };
        const folder: Folder = {
          _id: id,
          collectivity,
          name: request.name,
          type: type.id,
          subtype: subtype.id,
          protocol: type.protocol,
          signatureFormat: type.signatureFormat,
          emitter: { desk: request.desk, by: who.email.toLowerCase() },
          circuit: subtype.circuit,
          progress: draft,
          waitingFor: [],
          desks: [...new Set([request.desk, ...desksOf(subtype.circuit)])],
          documents,
          metadata: request.metadata,
          ...(request.dueDate ? { dueDate: request.dueDate } : {}),
          history: [{ at, by: who.email.toLowerCase(), action: "created", desk: request.desk, state: "DRAFT" }],
          createdAt: at,
          updatedAt: at,
          version: 0,
        };
        await folders.insert(folder);
        const result = request.start ? await startFolder(folder, who) : folder;
        return detail(result);
      },
    }),
    tenantEndpoint({
      name: "folders-start",
      answer: answers.folder,
      subject: "tenant.*.parapheur.folders.start",
      schema: z.object({ id: folderId }).strict(),
      callers: members,
      handle: async ({ id }, { collectivity, caller }) => detail(await startFolder(await readable(collectivity, id, caller), person(caller))),
    }),
    tenantEndpoint({
      name: "folders-retrieve",
      answer: answers.folder,
      subject: "tenant.*.parapheur.folders.retrieve",
      schema: z.object({ id: folderId }).strict(),
      callers: members,
      handle: async ({ id }, { collectivity, caller }) => {
        const who = person(caller);
        const folder = await readable(collectivity, id, caller);
        await requireEmitter(folder, who);
        if (!retrievable(folder)) throw new Conflict("the folder can be taken back only while no one has acted on it");
        const progress: Progress = { state: "DRAFT", steps: [] };
        return detail(await folders.save(folder, { progress, waitingFor: [], history: [...folder.history, { at: now(), by: who.email.toLowerCase(), action: "retrieved", state: "DRAFT" }] }));
      },
    }),
    tenantEndpoint({
      name: "folders-get",
      answer: answers.folder,
      subject: "tenant.*.parapheur.folders.get",
      schema: z.object({ id: folderId }).strict(),
      callers: members,
      handle: async ({ id }, { collectivity, caller }) => detail(await readable(collectivity, id, caller)),
    }),
    tenantEndpoint({
      name: "folders-list",
      answer: answers.folders,
      subject: "tenant.*.parapheur.folders.list",
      schema: z.object({ view: z.enum(["waiting", "started", "all"]).default("waiting") }).strict().default({ view: "waiting" }),
      callers: members,
      handle: async ({ view }, { collectivity, caller }) => {
        const who = person(caller);
        if (view === "all") {
          if (!isAdministrator(caller, collectivity)) throw new Forbidden("every folder of the collectivity is its administrators' view");
          return { folders: (await folders.all(collectivity)).map((f) => summary(f)) };
        }
        if (view === "started") return { folders: (await folders.startedBy(collectivity, who.email.toLowerCase())).map((f) => summary(f)) };
        const mine = desksOfPerson(await desksOfCollectivity(collectivity), who.email, now());
        const own = new Set(mine.owned);
        const list = await folders.waitingFor(collectivity, [...mine.owned, ...mine.delegating]);
        return {
          folders: list.map((f) => {
            const desks = f.waitingFor.filter((d) => own.has(d) || mine.delegating.includes(d));
            // Where it stands for the caller, with iParapheur's names: CURRENT or LATE at their own
            // desk, DELEGATED when it waits for a desk that delegates to theirs.
            const delegated = desks.every((d) => !own.has(d));
            return { ...summary(f, desks), state: delegated ? "DELEGATED" : late(f) ? "LATE" : "CURRENT" };
          }),
        };
      },
    }),
    tenantEndpoint({
      name: "folders-document",
      answer: answers.document,
      subject: "tenant.*.parapheur.folders.document",
      schema: z.object({ id: folderId, index: z.number().int().min(0), version: z.enum(["original", "signed"]).default("original"), signature: z.number().int().min(1).optional() }).strict(),
      callers: members,
      handle: async ({ id, index, version, signature }, { collectivity, caller }) => {
        const folder = await readable(collectivity, id, caller);
        const document = folder.documents[index];
        if (!document) throw new NotFound(`folder ${id} has no document ${index}`);
        if (signature !== undefined) {
          const s = document.signatures[signature - 1];
          if (!s) throw new NotFound(`document ${index} has no signature ${signature}`);
          return { name: s.format === "PKCS7" ? `${document.name}.${signature}.p7s` : document.name, mimeType: s.format === "PKCS7" ? "application/pkcs7-signature" : document.mimeType, contentBase64: (await files.readAll(s.file.object)).toString("base64") };
        }
        const file = version === "signed" ? (document.latest ?? document.original) : document.original;
        return { name: document.name, mimeType: document.mimeType, sha256: file.sha256, contentBase64: (await files.readAll(file.object)).toString("base64") };
      },
    }),
    tenantEndpoint({
      name: "folders-visa",
      answer: answers.folder,
      subject: "tenant.*.parapheur.folders.visa",
      schema: z.object({ id: folderId, comment: z.string().trim().max(1000).optional() }).strict(),
      callers: members,
      handle: async ({ id, comment }, { collectivity, caller }) => {
        const who = person(caller);
        const folder = await readable(collectivity, id, caller);
        const { step, desk, delegate } = await standing(folder, who);
        const at = now();
        const by = who.email.toLowerCase();
        const progress = circuitStep(() => approve(folder.progress, { kind: "visa", desk, by, at, ...(delegate ? { delegate } : {}) }));
        const saved = await advance(folder, { progress, history: [...folder.history, entry(folder, progress, { at, by, action: "visa", step: step.index, desk, ...(delegate ? { delegate } : {}), ...(comment ? { reason: comment } : {}) })] });
        actions.inc({ collectivity, kind: "visa" });
        return detail(saved);
      },
    }),
    tenantEndpoint({
      name: "folders-sign",
      answer: answers.folder,
      subject: "tenant.*.parapheur.folders.sign",
      schema: z.object({ id: folderId, confirmation: z.string().min(20).max(4000) }).strict(),
      callers: allow.roles("signataire", "elu", "administrateur"),
      handle: async ({ id, confirmation }, { collectivity, caller }) => {
        const who = person(caller);
        const folder = await readable(collectivity, id, caller);
        const standing = await signatureStanding(folder, who);
        const signer = await confirmedSigner(caller, who, confirmation, signPurpose([id]), collectivity);
        return detail(await signFolder(folder, who, standing, signer));
      },
    }),
    // iParapheur's bulk signature: several folders waiting for the signer, one confirmation of
    // the second factor for the list; each folder is signed, or says why it was not.
    tenantEndpoint({
      name: "folders-sign-batch",
      answer: answers.batch,
      subject: "tenant.*.parapheur.folders.sign-batch",
      schema: z.object({ ids: z.array(folderId).min(1).max(100), confirmation: z.string().min(20).max(4000) }).strict(),
      callers: allow.roles("signataire", "elu", "administrateur"),
      handle: async ({ ids, confirmation }, { collectivity, caller }) => {
        const who = person(caller);
        if (new Set(ids).size !== ids.length) throw new InvalidRequest("a folder is named twice in the list");
        const signer = await confirmedSigner(caller, who, confirmation, signPurpose(ids), collectivity);
        // Folders are independent: a few are signed at once; the answer keeps the list's order.
        const results: Record<string, unknown>[] = new Array(ids.length);
        let next = 0;
        const worker = async () => {
          for (let index = next++; index < ids.length; index = next++) {
            const id = ids[index]!;
            try {
              const folder = await readable(collectivity, id, caller);
              const saved = await signFolder(folder, who, await signatureStanding(folder, who), signer);
              results[index] = { id, signed: true, state: stateOf(saved) };
            } catch (error) {
              if (!(error instanceof ServiceError)) throw error;
              results[index] = { id, signed: false, status: statusOf(error), reason: error.message };
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(4, ids.length) }, worker));
        return { folders: results };
      },
    }),
    tenantEndpoint({
      name: "folders-reject",
      answer: answers.folder,
      subject: "tenant.*.parapheur.folders.reject",
      schema: z.object({ id: folderId, reason }).strict(),
      callers: members,
      handle: async ({ id, reason: why }, { collectivity, caller }) => {
        const who = person(caller);
        const folder = await readable(collectivity, id, caller);
        const { step, desk, delegate } = await standing(folder, who);
        const at = now();
        const by = who.email.toLowerCase();
        const progress = circuitStep(() => reject(folder.progress, { desk, by, at, reason: why, ...(delegate ? { delegate } : {}) }));
        const saved = await advance(folder, { progress, history: [...folder.history, entry(folder, progress, { at, by, action: "rejection", step: step.index, desk, reason: why, ...(delegate ? { delegate } : {}) })] });
        actions.inc({ collectivity, kind: "rejection" });
        return detail(saved);
      },
    }),
    // A desk hands its part to another desk (TRANSFERRED), or asks another desk's opinion first
    // (SECONDED): the other desk then sees the folder and acts on it.
    ...(["transfer", "second-opinion"] as const).map((kind) =>
      tenantEndpoint({
        name: `folders-${kind}`,
        answer: answers.folder,
        subject: `tenant.*.parapheur.folders.${kind}`,
        schema: z.object({ id: folderId, to: deskId, reason: z.string().trim().max(1000).optional() }).strict(),
        callers: members,
        handle: async ({ id, to, reason: why }, { collectivity, caller }) => {
          const who = person(caller);
          const folder = await readable(collectivity, id, caller);
          if (!(await desks.find(collectivity, to))) throw new InvalidRequest(`no desk ${to} in collectivity ${collectivity}`);
          const { step, desk, delegate } = await standing(folder, who);
          const at = now();
          const by = who.email.toLowerCase();
          const action = { desk, by, at, to, ...(why ? { reason: why } : {}), ...(delegate ? { delegate } : {}) };
          const progress = circuitStep(() => (kind === "transfer" ? transfer(folder.progress, action) : askSecondOpinion(folder.progress, action)));
          const saved = await advance(folder, { progress, desks: [...new Set([...folder.desks, to])], history: [...folder.history, entry(folder, progress, { at, by, action: kind, step: step.index, desk, to, ...(why ? { reason: why } : {}), ...(delegate ? { delegate } : {}) })] });
          actions.inc({ collectivity, kind });
          return detail(saved);
        },
      }),
    ),
    tenantEndpoint({
      name: "folders-bypass",
      answer: answers.folder,
      subject: "tenant.*.parapheur.folders.bypass",
      schema: z.object({ id: folderId, reason }).strict(),
      callers: administrators,
      handle: async ({ id, reason: why }, { collectivity, caller }) => {
        const who = person(caller);
        const folder = await folders.require(collectivity, id);
        const step = current(folder.progress);
        const at = now();
        const progress = circuitStep(() => bypass(folder.progress, { by: who.email.toLowerCase(), at, reason: why }));
        const saved = await advance(folder, { progress, history: [...folder.history, entry(folder, progress, { at, by: who.email.toLowerCase(), action: "bypass", step: step?.index ?? 0, reason: why })] });
        actions.inc({ collectivity, kind: "bypass" });
        // Audited: the history keeps it, and the log says it at warning level.
        log.warn({ collectivity, folder: id, step: step?.index, by: who.email }, "a step was passed over by an administrator");
        events.record(collectivity, "step_bypassed", id, 1, at);
        return detail(saved);
      },
    }),
    tenantEndpoint({
      name: "folders-evidence",
      answer: answers.evidence,
      subject: "tenant.*.parapheur.folders.evidence",
      schema: z.object({ id: folderId }).strict(),
      callers: members,
      handle: async ({ id }, { collectivity, caller }) => {
        const folder = await readable(collectivity, id, caller);
        if (folder.progress.state !== "FINISHED") throw new Conflict(`the folder is ${stateOf(folder).toLowerCase()}: its evidence bundle comes when it is finished`);
        const tenant = await tenantOf(collectivity);
        const { ca, seal } = await keys.authority(tenant);
        const certificates = await keys.list(collectivity);
        const used = new Set(folder.documents.flatMap((d) => d.signatures.filter((s) => s.kind === "signature").map((s) => s.certificate)));
        const bundle = await evidenceBundle(
          {
            folder: folder._id,
            collectivity,
            history: detail(folder),
            documents: await Promise.all(
              folder.documents.map(async (d) => ({
                name: d.name,
                extension: extensionOf(d.name, d.mimeType),
                original: await files.readAll(d.original.object),
                ...(d.latest ? { signed: await files.readAll(d.latest.object) } : {}),
                detached: await Promise.all(d.signatures.filter((s) => s.format === "PKCS7").map((s) => files.readAll(s.file.object))),
              })),
            ),
            authorityPem: ca.certificatePem,
            revocationsPem: await keys.revocationList(tenant),
            sealPem: seal.certificatePem,
            signers: certificates.filter((c) => used.has(c._id)).map((c) => ({ serial: c._id, certificatePem: c.certificatePem })),
          },
          seal,
          now(),
        );
        return { fileName: `preuve-${folder._id}.tar.gz`, sha256: sha256(bundle), contentBase64: bundle.toString("base64") };
      },
    }),
  ];

  async function requireEmitter(folder: Folder, who: UserCaller): Promise<void> {
    const mine = desksOfPerson(await desksOfCollectivity(folder.collectivity), who.email, now());
    if (folder.emitter.by !== who.email.toLowerCase() && !mine.owned.includes(folder.emitter.desk) && !mine.secretary.includes(folder.emitter.desk)) {
      throw new Forbidden(`only the people of desk ${folder.emitter.desk}, which sent the folder, may do this`);
    }
  }

  /** The caller's standing at the folder's current step, which must be a signature. */
  async function signatureStanding(folder: Folder, who: UserCaller) {
    const found = await standing(folder, who);
    if (found.step.step.type !== "SIGNATURE") throw new Conflict(`this step needs ${found.step.step.type === "VISA" ? "a visa" : "the seal"}, not a signature`);
    return found;
  }

  /**
   * The signer's key, once their second factor's confirmation for `purpose` is verified by this
   * service itself against the identity's keys, and spent: it serves once.
   */
  async function confirmedSigner(caller: Caller, who: UserCaller, confirmation: string, purpose: string, collectivity: string) {
    if (!context.callers) throw new Unavailable("this service cannot verify a second factor: it has no identity issuer (IDENTITY_ISSUER)");
    const confirmed = await context.callers.verifyConfirmation(confirmation, caller, purpose);
    const signer = await keys.signerKey(collectivity, who.email);
    await confirmations.use(confirmed.id);
    return signer;
  }

  async function signFolder(folder: Folder, who: UserCaller, { step, desk, delegate }: Awaited<ReturnType<typeof signatureStanding>>, signer: Awaited<ReturnType<KeyStore["signerKey"]>>): Promise<Folder> {
    const tenant = await tenantOf(folder.collectivity);
    const { ca } = await keys.authority(tenant);
    const at = now();
    const by = who.email.toLowerCase();
    const progress = circuitStep(() => approve(folder.progress, { kind: "signature", desk, by, at, ...(delegate ? { delegate } : {}) }));
    const documents = await signAll(folder, signer.key, [ca.certificatePem], { name: signer.record.commonName, ...(signer.record.title ? { title: signer.record.title } : {}), email: by, certificate: signer.record._id, kind: "signature" }, at, tenant);
    const saved = await advance(folder, {
      progress,
      documents,
      history: [
        ...folder.history,
        entry(folder, progress, { at, by, action: "signature", step: step.index, desk, ...(delegate ? { delegate } : {}), certificate: signer.record._id, hashes: documents.map((d) => d.signatures.at(-1)!.file.sha256) }),
      ],
    });
    actions.inc({ collectivity: folder.collectivity, kind: "signature" });
    log.info({ collectivity: folder.collectivity, folder: folder._id, desk, delegate, certificate: signer.record._id }, "folder signed");
    return saved;
  }

  async function startFolder(folder: Folder, who: UserCaller): Promise<Folder> {
    await requireEmitter(folder, who);
    if (folder.progress.state !== "DRAFT") throw new Conflict(`the folder is ${stateOf(folder).toLowerCase()}: only a draft is sent`);
    const progress = begin(folder.circuit);
    const at = now();
    return advance(folder, { progress, history: [...folder.history, entry(folder, progress, { at, by: who.email.toLowerCase(), action: "started", desk: folder.emitter.desk })] });
  }
}

/**
 * Tells the flow that sent a folder that it ended: a message on the flows' durable stream,
 * deduplicated by the folder and its end, so that telling it twice (a sweep after a lost answer)
 * changes nothing. Until the stream takes it, the folder stays to be told.
 */
export async function signalFlowOf(context: Pick<ServiceContext, "nats" | "database" | "log">, folder: Folder): Promise<void> {
  if (!folder.flow) return;
  const rejection = rejectionOf(folder.progress);
  const signal = {
    document: folder.flow.document,
    step: folder.flow.step,
    outcome: folder.progress.state === "FINISHED" ? "done" : "rejected",
    ref: folder._id,
    ...(rejection ? { reason: `rejeté par le bureau ${rejection.desk} : ${rejection.reason}` } : {}),
  };
  try {
    await jetstream(context.nats).publish(`flows.signal.${folder.collectivity}`, JSON.stringify(signal), { msgID: `parapheur/${folder._id}/${folder.progress.state}`, timeout: 10_000 });
  } catch (error) {
    context.log.warn({ collectivity: folder.collectivity, folder: folder._id, reason: (error as Error).message }, "the flow could not be told its folder ended: it will be told later");
    return;
  }
  await new FolderRepository(context.database).signalled(folder.collectivity, folder._id);
}

/**
 * What a signer's second factor confirms: one folder (`parapheur.sign:<id>`), or a list of them
 * (`parapheur.sign:<SHA-256 of the ids, sorted, joined by commas>`).
 */
export function signPurpose(ids: readonly string[]): string {
  return `parapheur.sign:${ids.length === 1 ? ids[0] : sha256(Buffer.from([...ids].sort().join(",")))}`;
}

/** iParapheur's RETRIEVABLE: sent, and no one has acted on it yet. */
function retrievable(folder: Folder): boolean {
  return folder.progress.state === "PENDING" && folder.progress.steps.every((s) => s.actions.length === 0);
}
