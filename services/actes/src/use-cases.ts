import { Readable } from "node:stream";
import { randomUUID } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { BusinessEvents, Logger, ServiceMetrics } from "@mutualis/service-kit";
import { Conflict, Forbidden, handOver, InvalidRequest, isAdministrator, Unavailable, type Caller, type HandedFile, type ObjectFiles } from "@mutualis/service-kit";
import { looksLikePdf, type ActFile, type NatureCode } from "./domain/act.ts";
import type { Emitter } from "./domain/envelope.ts";
import { actIdentifier, exchangeFileNames, parisDay, transmissionNames, type ExchangeCode } from "./domain/identifiers.ts";
import { readActes } from "./domain/schema.ts";
import { classificationProblems, demandeClassificationXml, readClassificationAnswer, type Classification } from "./domain/classification.ts";
import { answerAcknowledgements, answers, answerXml, initialLetterStatus, letterKinds, statusAfterAnswer, type AnswerKind } from "./domain/letters.ts";
import { annulationXml, MessageError, readPrefectureMessage, type PrefectureMessage } from "./domain/returns.ts";
import { streamArchive } from "./domain/archive.ts";
import { envelopedEntries, transmissionEntries } from "./domain/transmission.ts";
import type { DocumentRepository } from "./documents.ts";
import type { FlowNames } from "./flows.ts";
import type { Tenant, TenantAuthority, TenantRepository } from "@mutualis/service-kit";
import type { Act, ActRepository, ClassificationRepository, SequenceRepository, StoredFile, TransmissionNaming } from "./repository.ts";
import type { ActesSettings, ActesTenantSettings } from "./settings.ts";
import type { Letter, LetterRepository } from "./letters.ts";
import { checkAct, defaultAnnexTypology, uploadsNamed, type ActRequest, type UploadedFile } from "./submission.ts";
import { Uploads } from "./uploads.ts";

/** What the prefecture's connector answers to a transmission. */
export interface TransmissionReply {
  readonly received: boolean;
  readonly reason?: string;
}

/**
 * What the prefecture sends back later on the returns flow: an @ctes message (ARActe,
 * AnomalieActe, ARAnnulation, CourrierSimple…) as its XML file, and the files it names (a letter's PDF).
 */
export interface PrefectureReturn {
  readonly actId: string;
  /** The prefecture's envelope (EnveloppeMISILLCL, `TACT--…xml`): one per message, so two letters never share a name. */
  readonly envelope: { readonly name: string; readonly content: string };
  /** The message's file: its @ctes name and its bytes (ISO-8859-1 XML), base64. */
  readonly message: { readonly name: string; readonly content: string };
  readonly files?: readonly { readonly name: string; readonly content: string }[];
}

export interface ActesDependencies {
  readonly settings: ActesSettings;
  readonly nats: NatsConnection;
  readonly acts: ActRepository;
  readonly tenants: TenantRepository;
  readonly documents: DocumentRepository;
  readonly sequences: SequenceRepository;
  readonly classifications: ClassificationRepository;
  readonly letters: LetterRepository;
  /** The files uploaded in parts, and the object store that holds them. */
  readonly uploads: Uploads;
  readonly files: ObjectFiles;
  readonly flows: FlowNames;
  readonly metrics: ServiceMetrics;
  readonly events: BusinessEvents;
  readonly log?: Logger;
  readonly now?: () => Date;
}

function missingAuthority(collectivity: string): string {
  return `collectivity ${collectivity} does not declare what @ctes needs to know of it: its Collectivity needs spec.actes (département, arrondissement, nature)`;
}

function storedFile(file: ActFile & { typology: string; signature?: string }): StoredFile {
  return { fileName: file.fileName, mimeType: file.mimeType, size: file.size, sha256: file.sha256, typology: file.typology, ...(file.signature ? { signature: file.signature } : {}) };
}


/**
 * The story of an act: submitted by an agent, checked, stored, queued on a durable flow,
 * transmitted to the prefecture, then acknowledged or refused. Each step is recorded in the
 * act's history and can be replayed without sending anything twice.
 */
export class ActesUseCases {
  private readonly submitted;
  private readonly acknowledged;
  private readonly timeToAcknowledgement;
  private readonly refused;

  constructor(private readonly deps: ActesDependencies) {
    this.submitted = deps.metrics.businessCounter("mutualis_actes_submitted_total", "Acts submitted, per collectivity.");
    this.acknowledged = deps.metrics.businessCounter("mutualis_actes_acknowledged_total", "Acts acknowledged by the prefecture, per collectivity.");
    // From submission to the prefecture's acknowledgement: seconds when all goes well, days when a
    // prefecture's system is down.
    this.timeToAcknowledgement = deps.metrics.businessHistogram(
      "mutualis_actes_acknowledgement_seconds",
      "Time from an act's submission to its acknowledgement by the prefecture, per collectivity.",
      [1, 5, 30, 60, 300, 900, 3600, 4 * 3600, 86_400, 7 * 86_400],
    );
    this.refused = deps.metrics.businessCounter("mutualis_actes_refused_total", "Acts refused by the prefecture, per collectivity.");
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async submit(collectivity: string, request: ActRequest, author: Caller & { kind: "user" }, flow?: { id: string; document: string; step: number }): Promise<Act> {
    // Sent again by its flow (a retry): the act it made the first time.
    if (flow) {
      const existing = await this.deps.acts.byId(flow.id);
      if (existing?.collectivity === collectivity) return existing;
    }
    const tenant = await this.deps.tenants.require(collectivity);
    if (!tenant.authority) throw new Conflict(missingAuthority(collectivity));
    const uploads = await this.deps.uploads.forAct(collectivity, author, uploadsNamed(request));
    const uploaded = new Map<string, UploadedFile>(
      uploads.map((u) => [u._id, { fileName: u.fileName, mimeType: u.mimeType, object: Uploads.objectOf(u), head: u.head?.buffer ?? new Uint8Array() }]),
    );
    const { act, contents } = checkAct(request, this.deps.settings.ACTES_MAX_FILE_BYTES, this.now(), uploaded);
    // The act's matière and its files' typologies must be in the collectivity's classification,
    // as the prefecture will check: refused here, with the reason, before anything is stored.
    const classification = await this.classificationOf(collectivity);
    const problems = classificationProblems(classification, {
      nature: act.nature as NatureCode,
      classification: act.classification,
      files: [act.document, ...act.annexes].map((file, i) => ({ where: i === 0 ? "document" : `annexes.${i - 1}`, typology: file.typology })),
    });
    if (problems.length > 0) throw new InvalidRequest(`the act does not follow the classification of ${classification.date} in force for ${collectivity}`, { details: problems });
    // The uploads it names become its files, and only its: given back if it is not stored.
    const stored = await this.deps.uploads.attachTo(uploads, flow?.id ?? randomUUID(), async (id) => {
      const inserted = await this.deps.acts.insert(
        collectivity,
        {
          ...act,
          classificationVersion: classification.date,
          author: { subject: author.subject, email: author.email },
          document: storedFile(act.document),
          annexes: act.annexes.map(storedFile),
          ...(flow ? { flow: { document: flow.document, step: flow.step, signalled: false } } : {}),
        },
        id,
      );
      await this.deps.documents.store(collectivity, inserted._id, contents);
      return inserted;
    });
    this.submitted.inc({ collectivity });
    this.deps.events.record(collectivity, "submitted", stored._id, 1, stored.submittedAt);
    return this.queue(stored);
  }

  /**
   * The collectivity's classification: the one kept, while the prefecture said it is in force
   * less than ACTES_CLASSIFICATION_MAX_AGE_SECONDS ago; otherwise the prefecture is asked (7-1),
   * naming the one kept, and answers that it is unchanged or with the new one. If the prefecture
   * cannot be reached, the one kept serves; with none kept, the act waits (503).
   */
  async classificationOf(collectivity: string, refresh = false): Promise<Classification> {
    const kept = await this.deps.classifications.get(collectivity);
    const maxAgeMs = this.deps.settings.ACTES_CLASSIFICATION_MAX_AGE_SECONDS * 1000;
    if (kept && !refresh && this.now().getTime() - new Date(kept.checkedAt).getTime() < maxAgeMs) return kept.classification;
    const request = demandeClassificationXml(kept?.classification.date);
    let answer;
    try {
      const reply = await this.deps.nats.request(
        `${this.deps.settings.PREFECTURE_SUBJECT}.${collectivity}.classification`,
        JSON.stringify({ message: { name: `DemandeClassification-${collectivity}.xml`, content: request.toString("base64") } }),
        { timeout: 10_000 },
      );
      if (reply.headers?.get("Nats-Service-Error-Code")) throw new Error(reply.headers.get("Nats-Service-Error") ?? "the prefecture refused the request");
      answer = readClassificationAnswer(Buffer.from(reply.json<{ message: { content: string } }>().message.content, "base64"));
    } catch (error) {
      if (kept) return kept.classification;
      throw new Unavailable(`the classification of ${collectivity} cannot be had from the prefecture yet: acts will be taken once it can`, { cause: error });
    }
    if ("classification" in answer) {
      await this.deps.classifications.save(collectivity, answer.classification, this.now());
      return answer.classification;
    }
    await this.deps.classifications.checked(collectivity, this.now());
    return kept!.classification;
  }

  /**
   * Publishes an acknowledged act (when ACTES_PUBLISH is on): its document handed to the
   * publication service in chunks, then its @ctes data and its acknowledgement's date; what the
   * service answers (published, with the page's address, or why not) is kept on the act. A
   * redelivered message for an act already published does nothing; a service that cannot be
   * reached is asked again later, by the flow.
   */
  async publish(actId: string): Promise<void> {
    const act = await this.deps.acts.byId(actId);
    if (!act || (act.status !== "acknowledged" && act.status !== "transmitted")) return;
    const acknowledgedOn = act.acknowledgedAt ? parisDay(act.acknowledgedAt) : undefined;
    // Published before its acknowledgement: the publication is told of it, once.
    const earlier = act.publication;
    if (earlier && ("skipped" in earlier || earlier.acknowledgedOn || !acknowledgedOn)) return;
    let file: (HandedFile & { fileName: string; mimeType: string }) | undefined;
    if (!earlier) {
      const [document] = await this.deps.documents.load(act.collectivity, act._id, this.deps.files);
      const source = document instanceof Uint8Array ? Readable.from([document]) : document!.read();
      file = { fileName: act.document.fileName, mimeType: act.document.mimeType, ...(await handOver(this.deps.nats, `ipl.${act.collectivity}.file`, source)) };
    }
    const classification = await this.classificationOf(act.collectivity).catch(() => undefined);
    const label = (code: string) => classification?.matieres.find((m) => m.code === code)?.label;
    const [level1, level2] = [label(act.classification.split(".")[0]!), label(act.classification.split(".").slice(0, 2).join("."))];
    const reply = await this.deps.nats.request(
      `ipl.${act.collectivity}.publish`,
      JSON.stringify({
        actId: act._id,
        // Before its acknowledgement, the identifier its transmission gave it.
        identifier: act.identifier ?? act.transmission?.identifier,
        numeroInterne: act.numeroInterne,
        nature: act.nature,
        classification: act.classification,
        ...(level1 && level2 ? { matiere: [level1, level2] } : {}),
        objet: act.objet,
        date: act.date,
        ...(acknowledgedOn ? { acknowledgedOn } : {}),
        controlled: true,
        ...(file ? { file } : {}),
      }),
      { timeout: 30_000 },
    );
    if (reply.headers?.get("Nats-Service-Error-Code")) throw new Unavailable(`the publication service did not publish act ${act._id}: ${reply.headers.get("Nats-Service-Error") ?? "refused"}`);
    const answer = reply.json<{ published: boolean; url?: string; publishedAt?: string; reason?: string }>();
    if (earlier) return this.deps.acts.publicationAcknowledged(act, acknowledgedOn!);
    await this.deps.acts.setPublication(
      act,
      answer.published ? { url: answer.url!, at: new Date(answer.publishedAt!), ...(acknowledgedOn ? { acknowledgedOn } : {}) } : { skipped: answer.reason ?? "non publié" },
    );
  }

  /**
   * Puts an act on the flow, to be published (or, published already, to have its acknowledgement
   * added); the act's id and the moment deduplicate a repeated queueing.
   */
  private async queuePublication(act: Act, moment: "transmitted" | "acknowledged"): Promise<void> {
    if (!this.deps.settings.ACTES_PUBLISH) return;
    await jetstream(this.deps.nats).publish(`${this.deps.flows.transmitSubject}.${act.collectivity}`, JSON.stringify({ actId: act._id, step: "publish" }), { msgID: `publish/${act._id}/${moment}` });
  }

  /** Puts a posted act on the transmission flow; the act's id deduplicates a repeated queueing. */
  async queue(act: Act): Promise<Act> {
    try {
      await jetstream(this.deps.nats).publish(`${this.deps.flows.transmitSubject}.${act.collectivity}`, JSON.stringify({ actId: act._id }), {
        msgID: act._id,
      });
    } catch (error) {
      throw new Unavailable("the act is stored but not yet queued for transmission: it will be queued again", { cause: error });
    }
    return act.status === "posted" ? this.deps.acts.apply(act, { type: "queued" }) : act;
  }

  /**
   * At start, acts a crash left between storing and transmission are queued again; the act's id
   * deduplicates the message, and transmit() skips an act already sent.
   */
  async recoverUnsent(): Promise<number> {
    const unsent = [...(await this.deps.acts.inStatus("posted")), ...(await this.deps.acts.inStatus("waitingForTransmission"))];
    for (const act of unsent) await this.queue(act);
    return unsent.length;
  }

  /**
   * Acts stored whose queueing failed (NATS away at that moment) and were posted before
   * `before`: queued again, without waiting for a restart. The act's id deduplicates the message
   * if the first publish did reach the stream, and transmit() skips an act already sent.
   */
  async requeueStale(before: Date): Promise<number> {
    const stale = (await this.deps.acts.inStatus("posted")).filter((act) => act.submittedAt.getTime() < before.getTime());
    for (const act of stale) await this.queue(act);
    return stale.length;
  }

  /**
   * The files of an act's transmission, those of the object store read when the archive is made.
   * Its naming is fixed the first time, so a retry sends the same archive under the same name.
   */
  async transmissionFiles(act: Act, tenant: Tenant & { authority: TenantAuthority }) {
    const { authority } = tenant;
    const naming = act.transmission ?? (await this.deps.acts.fixTransmission(act, await this.newNaming(act, tenant.siren, authority.departement)));
    const contents = await this.deps.documents.load(act.collectivity, act._id, this.deps.files);
    const { entries, metadata } = transmissionEntries(
      { ...act, nature: act.nature as NatureCode, files: [act.document, ...act.annexes].map((file, i) => ({ ...file, content: contents[i]! })) },
      this.emitterOf(act.collectivity, tenant),
      naming,
      act.classificationVersion ?? (await this.classificationOf(act.collectivity)).date,
    );
    return { naming, entries, metadata };
  }

  /** Hands an archive to the prefecture as it is made, before the request that names it. */
  private deliver(collectivity: string, archive: AsyncIterable<Uint8Array>): Promise<HandedFile> {
    return handOver(this.deps.nats, `${this.deps.settings.PREFECTURE_SUBJECT}.${collectivity}.archive`, archive);
  }

  /** The collectivity as its envelopes name it: as its prefecture registered it, and where answers go. */
  private emitterOf(collectivity: string, tenant: Tenant & { authority: TenantAuthority }): Emitter {
    const returnAddress = `actes-${collectivity}@${this.deps.settings.ACTES_RETURN_DOMAIN}`;
    return {
      siren: tenant.siren,
      departement: tenant.authority.departement,
      arrondissement: tenant.authority.arrondissement,
      nature: tenant.authority.nature,
      referent: { name: tenant.displayName, email: returnAddress },
      returnAddresses: [returnAddress],
    };
  }

  /**
   * Sends the prefecture a message about a transmitted act (exchange `exchange`: a cancellation,
   * an answer to a letter) as @ctes does: in an archive with its envelope, numbered in the
   * collectivity's day like its transmissions, the message and its documents under their @ctes
   * names, every XML checked against the schema first. The files are kept with the act and the
   * message recorded in its exchanges.
   */
  private async sendToPrefecture(act: Act, endpoint: "cancel" | "reply", exchange: ExchangeCode, message: (documents: string[]) => Buffer, documents: readonly Uint8Array[]): Promise<void> {
    const tenant = await this.deps.tenants.require(act.collectivity);
    if (!tenant.authority) throw new Conflict(missingAuthority(act.collectivity));
    const naming = await this.nextNaming(act.collectivity, tenant.siren);
    const names = exchangeFileNames(act.identifier!, exchange);
    const files = documents.map((content, i) => ({ name: names.file(defaultAnnexTypology, i + 1, "pdf"), content }));
    const xml = message(files.map((file) => file.name));
    const emitter = this.emitterOf(act.collectivity, { ...tenant, authority: tenant.authority });
    const { entries, envelope } = envelopedEntries(emitter, naming.envelope, { name: names.metadata, content: xml }, files);
    for (const file of [{ name: naming.envelope, content: envelope }, { name: names.metadata, content: xml }, ...files]) {
      await this.deps.documents.keepExchangeFile(act.collectivity, act._id, naming.envelope, file.name, file.content);
    }
    const archive = await this.deliver(act.collectivity, streamArchive(entries, this.now()));
    const reply = await this.deps.nats.request(
      `${this.deps.settings.PREFECTURE_SUBJECT}.${act.collectivity}.${endpoint}`,
      JSON.stringify({ actId: act._id, archiveName: naming.archive, archive }),
      { timeout: 10_000 },
    );
    if (reply.headers?.get("Nats-Service-Error-Code")) throw new Unavailable(`the prefecture did not take the message: ${reply.headers.get("Nats-Service-Error") ?? "refused"}`);
    const root = readActes(xml, (document) => document.root);
    await this.deps.acts.addExchange(act, { direction: "sent", message: root, envelope: naming.envelope, file: names.metadata, at: this.now(), detail: naming.archive });
  }

  /** The names of the collectivity's next exchange: its next sequence number of the day (in Paris). */
  private async nextNaming(collectivity: string, siren: string) {
    const day = parisDay(this.now());
    const sequence = await this.deps.sequences.next(`${collectivity}/${day}`);
    return { day, sequence, ...transmissionNames(this.deps.settings.TRANSMITTER_TRIGRAM, siren, day, sequence) };
  }

  /** A new name for an act's transmission: its identifier, and the collectivity's next exchange of the day. */
  private async newNaming(act: Act, siren: string, departement: string): Promise<TransmissionNaming> {
    const identifier = actIdentifier(departement, siren, act.date, act.numeroInterne, act.nature as NatureCode);
    return { identifier, ...(await this.nextNaming(act.collectivity, siren)) };
  }

  /** Sends an act to the prefecture; a redelivered message for an act already sent does nothing. */
  async transmit(actId: string): Promise<void> {
    let act = await this.deps.acts.byId(actId);
    if (!act) return;
    // The message can arrive before the submission has recorded the queueing: record it here.
    if (act.status === "posted") act = await this.deps.acts.apply(act, { type: "queued" });
    if (act.status !== "waitingForTransmission") return;
    const tenant = await this.deps.tenants.require(act.collectivity);
    if (!tenant.authority) {
      await this.deps.acts.apply(act, { type: "failed", reason: missingAuthority(act.collectivity) }, { reason: missingAuthority(act.collectivity) });
      return;
    }
    const { naming, entries, metadata } = await this.transmissionFiles(act, { ...tenant, authority: tenant.authority });
    await this.deps.documents.keepExchangeFile(act.collectivity, act._id, naming.envelope, metadata.name, metadata.content);
    const archive = await this.deliver(act.collectivity, streamArchive(entries, this.now()));
    const payload = { actId: act._id, archiveName: naming.archive, archive };
    const reply = await this.deps.nats.request(`${this.deps.settings.PREFECTURE_SUBJECT}.${act.collectivity}.submit`, JSON.stringify(payload), { timeout: 60_000 });
    // The prefecture could not take the request (the archive did not arrive whole, say): sent again later.
    if (reply.headers?.get("Nats-Service-Error-Code")) throw new Unavailable(`the prefecture did not take the transmission: ${reply.headers.get("Nats-Service-Error") ?? "refused"}`);
    const answer = reply.json<TransmissionReply>();
    const sent = await this.deps.acts.apply(act, { type: "sent" });
    await this.deps.acts.addExchange(act, { direction: "sent", message: "Acte", envelope: naming.envelope, file: metadata.name, at: this.now(), detail: naming.archive });
    if (!answer.received) {
      await this.deps.acts.apply(sent, { type: "refused", reason: answer.reason ?? "refused by the prefecture" }, { reason: answer.reason });
      this.refused.inc({ collectivity: act.collectivity });
    } else if ((tenant.settings as ActesTenantSettings | undefined)?.publication === "transmitted") {
      // The collectivity publishes its acts as soon as they are transmitted.
      await this.queuePublication(sent, "transmitted");
    }
  }

  /**
   * Applies what the prefecture sent back: the message is checked against the @ctes schema, kept
   * with the files it names, recorded in the act's exchanges, and moves the act on. A message the
   * service cannot read is kept and recorded too, never dropped.
   */
  async receive(ret: PrefectureReturn): Promise<void> {
    const act = await this.deps.acts.byId(ret.actId);
    if (!act) return;
    // The prefecture may answer before the transmission's reply is recorded: the return waits
    // (delivered again shortly), rather than meet an act that cannot take it yet and be lost.
    if (act.status === "posted" || act.status === "waitingForTransmission") throw new Unavailable(`act ${act._id} is not recorded as transmitted yet: its return waits`);
    const xml = Buffer.from(ret.message.content, "base64");
    for (const file of [ret.envelope, ret.message, ...(ret.files ?? [])]) {
      await this.deps.documents.keepExchangeFile(act.collectivity, act._id, ret.envelope.name, file.name, Buffer.from(file.content, "base64"));
    }
    let message: PrefectureMessage;
    try {
      message = readPrefectureMessage(xml);
    } catch (error) {
      if (!(error instanceof MessageError)) throw error;
      await this.deps.acts.addExchange(act, { direction: "received", message: "illisible", envelope: ret.envelope.name, file: ret.message.name, at: this.now(), detail: error.message });
      return;
    }
    const entry = { direction: "received" as const, message: message.kind, envelope: ret.envelope.name, file: ret.message.name, at: this.now() };
    switch (message.kind) {
      case "ARActe": {
        // Built on a classification older than the one in force: acknowledged, but flagged, as the
        // prefecture's application shows it, and the collectivity's classification is asked for again.
        const outdated = act.classificationVersion !== undefined && message.classificationVersionInForce > act.classificationVersion;
        await this.deps.acts.addExchange(act, {
          ...entry,
          detail: `reçu le ${message.receivedOn}, classification en vigueur du ${message.classificationVersionInForce}${outdated ? ` (l'acte est fondé sur celle du ${act.classificationVersion}, périmée)` : ""}`,
        });
        const now = this.now();
        await this.deps.acts.apply(
          act,
          { type: "acknowledged", identifier: message.identifier, receivedAt: now.toISOString() },
          { identifier: message.identifier, acknowledgedAt: now, ...(outdated ? { classificationOutdated: true } : {}) },
        );
        if (outdated) await this.classificationOf(act.collectivity, true).catch(() => undefined);
        await this.queuePublication(act, "acknowledged");
        await this.signalFlow(await this.deps.acts.byId(act._id));
        this.acknowledged.inc({ collectivity: act.collectivity });
        this.deps.events.record(act.collectivity, "acknowledged", act._id, 1, now);
        this.timeToAcknowledgement.observe({ collectivity: act.collectivity }, Math.max(0, (now.getTime() - act.submittedAt.getTime()) / 1000));
        return;
      }
      case "AnomalieActe":
      case "AnomalieEnveloppe": {
        const reason = `${message.kind === "AnomalieActe" ? "anomalie" : "anomalie d'enveloppe"} ${message.nature} : ${message.detail}`;
        await this.deps.acts.addExchange(act, { ...entry, detail: reason });
        await this.deps.acts.apply(act, { type: "refused", reason }, { reason });
        await this.signalFlow(await this.deps.acts.byId(act._id));
        this.refused.inc({ collectivity: act.collectivity });
        return;
      }
      case "ARAnnulation":
        await this.deps.acts.addExchange(act, { ...entry, detail: `annulation reçue le ${message.receivedOn}` });
        await this.deps.acts.apply(act, { type: "cancellationAcknowledged" });
        return;
      case "Letter":
        await this.deps.letters.add(
          {
            collectivity: act.collectivity,
            actId: act._id,
            kind: message.letter,
            on: message.on,
            ...(message.text ? { text: message.text } : {}),
            documents: [...message.documents],
            envelope: ret.envelope.name,
            status: initialLetterStatus(message.letter),
          },
          this.now(),
        );
        await this.deps.acts.addExchange(act, { ...entry, message: message.letter, detail: `${letterKinds[message.letter].label} du ${message.on}${message.text ? ` : ${message.text}` : ""}` });
        return;
      case "AnswerAcknowledgement": {
        await this.deps.acts.addExchange(act, { ...entry, message: message.acknowledgement, detail: `reçu le ${message.receivedOn}` });
        const letter = await this.deps.letters.byDate(act._id, answerAcknowledgements[message.acknowledgement].to, message.letterDate);
        if (letter?.status === "documentSent") await this.deps.letters.move(letter, "documentAcknowledged", message.acknowledgement, this.now());
        return;
      }
    }
  }

  /**
   * Tells the flow that sent an act how the prefecture answered: acknowledged (with the @ctes
   * identifier and the day, for its publication), or refused with the reason; on the flows'
   * stream, deduplicated, told again by the sweep until the stream takes it.
   */
  async signalFlow(act: Act | null | undefined): Promise<void> {
    if (!act?.flow || act.flow.signalled) return;
    const acknowledged = act.status === "acknowledged" || act.status === "cancellationAsked" || act.status === "cancelled";
    if (!acknowledged && act.status !== "refused") return;
    const signal = {
      document: act.flow.document,
      step: act.flow.step,
      outcome: acknowledged ? "done" : "rejected",
      ref: act._id,
      ...(acknowledged ? { identifier: act.identifier, acknowledgedOn: act.acknowledgedAt?.toLocaleDateString("sv-SE", { timeZone: "Europe/Paris" }) } : { reason: `refusé par la préfecture : ${act.reason ?? ""}` }),
    };
    try {
      await jetstream(this.deps.nats).publish(`flows.signal.${act.collectivity}`, JSON.stringify(signal), { msgID: `actes/${act._id}/${acknowledged ? "acknowledged" : "refused"}`, timeout: 10_000 });
    } catch (error) {
      this.deps.log?.warn({ collectivity: act.collectivity, act: act._id, reason: (error as Error).message }, "the flow could not be told the prefecture's answer: it will be told later");
      return;
    }
    await this.deps.acts.signalled(act);
  }

  /** The flows not told yet (NATS was away) are told now. */
  async signalFlows(): Promise<void> {
    for (const act of await this.deps.acts.unsignalled()) await this.signalFlow(act);
  }

  /** Asks the prefecture to cancel an acknowledged act; its answer comes back on the returns flow. */
  async requestCancellation(collectivity: string, id: string, caller: Caller): Promise<Act> {
    const act = await this.deps.acts.get(collectivity, id);
    const isAuthor = caller.kind === "user" && act.author?.subject === caller.subject;
    if (!isAuthor && !isAdministrator(caller, collectivity)) throw new Forbidden("an act's cancellation is asked by its author or an administrator of the collectivity");
    await this.deps.acts.apply(act, { type: "cancellationRequested" });
    await this.sendToPrefecture(act, "cancel", "6-1", () => annulationXml(act.identifier!), []);
    return this.deps.acts.get(collectivity, id);
  }

  /** The letters of the prefecture about an act, in the order they came. */
  letters(collectivity: string, actId: string): Promise<Letter[]> {
    return this.deps.letters.ofAct(collectivity, actId);
  }

  /**
   * The collectivity answers a letter of the prefecture: acknowledges it, sends the documents
   * asked for or refuses to, rejects or answers observations, answers a simple letter. Allowed
   * only from the letter's status the answer follows (409 otherwise); its documents are PDFs;
   * the letter moves on once the prefecture has taken the answer.
   */
  async answerLetter(collectivity: string, actId: string, letterId: string, answer: AnswerKind, documents: readonly Uint8Array[]): Promise<Letter> {
    const act = await this.deps.acts.get(collectivity, actId);
    const letter = await this.deps.letters.get(collectivity, actId, letterId);
    const next = statusAfterAnswer(letter.kind, letter.status, answer);
    const expected = answers[answer].documents;
    if (expected === "none" && documents.length > 0) throw new InvalidRequest(`a ${answer} carries no document`);
    if (expected === "one" && documents.length !== 1) throw new InvalidRequest(`a ${answer} carries one document, its letter`);
    if (expected === "many" && documents.length === 0) throw new InvalidRequest(`a ${answer} carries the documents asked for, at least one`);
    const notPdf = documents.findIndex((content) => !looksLikePdf(content));
    if (notPdf >= 0) throw new InvalidRequest(`documents.${notPdf}: is not a PDF file`);
    await this.sendToPrefecture(act, "reply", answers[answer].exchange, (names) => answerXml(answer, act.identifier!, letter.on, names), documents);
    await this.deps.letters.move(letter, next, answer, this.now());
    return this.deps.letters.get(collectivity, actId, letterId);
  }
}
