import { jetstream } from "@nats-io/jetstream";
import {
  Anomaly,
  anomalieActeXml,
  anomalieEnveloppeXml,
  classificationProblems,
  arActeXml,
  arAnnulationXml,
  answerAcknowledgements,
  answerAcknowledgementXml,
  answers,
  letterKinds,
  prefectureLetterXml,
  readCollectivityMessage,
  receiveMessage,
  type AnswerAcknowledgementKind,
  type CollectivityMessage,
  type ExchangeCode,
  type LetterKind,
  exchangeFileNames,
  maxArchiveBytes,
  parisDay,
  prefectureEnvelopeName,
  prefectureEnvelopeXml,
  readActes,
  receiveTransmission,
  SequenceRepository,
  retourClassificationXml,
  unchangedClassificationXml,
  validateActes,
  type ActMetadata,
  type AnomalyNature,
  type PrefectureReturn,
  type ReceivedAct,
  type TransmissionReply,
} from "@mutualis/actes";
import { isValidSiren } from "@mutualis/api";
import {
  allow,
  baseSettings,
  handedChunk,
  handedFile,
  InvalidRequest,
  isDuplicateKey,
  NotFound,
  ObjectFiles,
  Repository,
  retryDelayMs,
  type Database,
  type HandedChunk,
  type ServiceContext,
  type ServiceDefinition,
} from "@mutualis/service-kit";
import { nationalClassification } from "./classification.ts";
import { letterPdf } from "./letter.ts";
import { z } from "zod";

export const simulatorSettings = baseSettings.extend({
  PREFECTURE_SUBJECT: z.string().default("prefecture.actes"),
  /** How long the simulated prefecture takes to acknowledge. */
  SIMULATOR_ACK_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(200),
  /** The classification the simulated prefectures have in force until told another, which every acknowledgement names. */
  SIMULATOR_CLASSIFICATION_VERSION: z.iso.date().default("2026-01-01"),
  /**
   * The most the object store of the archives received holds (JetStream reserves it on the
   * server's disk budget), and how long an archive is kept there: a simulator keeps them a while.
   */
  SIMULATOR_ARCHIVES_MAX_BYTES: z.coerce.number().int().positive().default(512 * 1024 ** 2),
  SIMULATOR_ARCHIVES_MAX_AGE_SECONDS: z.coerce.number().int().positive().default(3600),
});

export type SimulatorSettings = z.infer<typeof simulatorSettings>;

interface Transmission {
  _id: string;
  collectivity: string;
  reply: TransmissionReply;
  identifier?: string;
  archiveName?: string;
  /** The act as the prefecture read it from the metadata. */
  act?: ReceivedAct["act"];
  /** The collectivity as its envelope named it: the prefecture's answers go to it. */
  emitter?: { siren: string; departement: string };
  /** The answer owed on the returns flow (ARActe or AnomalieActe), until it is sent. */
  answer?: PrefectureReturn;
  returned: boolean;
  receivedAt: Date;
}

class TransmissionRepository extends Repository<Transmission> {
  constructor(database: Database) {
    super(database, "transmissions");
  }
  find(actId: string) {
    return this.collection.findOne({ _id: actId });
  }
  async record(transmission: Transmission) {
    await this.collection.insertOne(transmission);
  }
  async markReturned(actId: string) {
    await this.collection.updateOne({ _id: actId }, { $set: { returned: true } });
  }
  pending() {
    return this.collection.find({ returned: false, "reply.received": true }).toArray();
  }
}

/** The classification in force: its date and the matières added to the national ones since the default. */
class ClassificationRepository extends Repository<{ _id: string; date: string; extra: { code: string; label: string }[] }> {
  constructor(database: Database) {
    super(database, "classification");
  }
  async current(defaultDate: string) {
    const stored = await this.collection.findOne({ _id: "current" });
    return nationalClassification(stored?.date ?? defaultDate, stored?.extra ?? []);
  }
  async publish(date: string, extra: { code: string; label: string }[]) {
    await this.collection.updateOne({ _id: "current" }, { $set: { date, extra } }, { upsert: true });
  }
}

/**
 * The act identifiers the prefecture acknowledged, each held by one act: the identifier is the
 * document's key, so two transmissions racing with the same identifier cannot both have it.
 */
class AcknowledgedIdentifiers extends Repository<{ _id: string; actId: string }> {
  constructor(database: Database) {
    super(database, "identifiers");
  }
  /** True when the identifier is now, or already was, this act's; false when another act has it. */
  async claim(identifier: string, actId: string): Promise<boolean> {
    try {
      await this.collection.insertOne({ _id: identifier, actId });
      return true;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      return (await this.collection.findOne({ _id: identifier }))?.actId === actId;
    }
  }
}

/** The letters the prefecture sent, by act, kind and date: what the collectivity's answers name. */
class SentLetters extends Repository<{ _id: string; actId: string; kind: LetterKind; on: string }> {
  constructor(database: Database) {
    super(database, "letters");
  }
  async record(actId: string, kind: LetterKind, on: string) {
    await this.collection.updateOne({ _id: `${actId}/${kind}/${on}` }, { $set: { actId, kind, on } }, { upsert: true });
  }
  find(actId: string, kind: LetterKind, on: string) {
    return this.collection.findOne({ _id: `${actId}/${kind}/${on}` });
  }
}

/** Per collectivity, the letters to send after acknowledging its next act. */
class Scripts extends Repository<{ _id: string; letters: { kind: LetterKind; text: string }[] }> {
  constructor(database: Database) {
    super(database, "scripts");
  }
  async set(collectivity: string, letters: { kind: LetterKind; text: string }[]) {
    await this.collection.updateOne({ _id: collectivity }, { $set: { letters } }, { upsert: true });
  }
  /** The script, once: it is gone afterwards. */
  async take(collectivity: string) {
    return (await this.collection.findOneAndDelete({ _id: collectivity }))?.letters ?? [];
  }
}

const letterRequest = z.object({
  actId: z.string().min(1).max(100),
  kind: z.enum(Object.keys(letterKinds) as [LetterKind, ...LetterKind[]]),
  text: z.string().min(1).max(5000),
});

/** An exchange of the collectivity: its archive, handed over in chunks before the request that names it. */
const exchangeArchive = z.object({ actId: z.string().min(1).max(100), archiveName: z.string().min(1).max(200), archive: handedFile(maxArchiveBytes + 1024 * 1024) });
type ExchangeArchive = z.infer<typeof exchangeArchive>;

/** The act's metadata in an @ctes answer's file name: the identifier and the exchange's code. */
function answerName(identifier: string, exchange: `${number}-${number}`): string {
  return exchangeFileNames(identifier, exchange).metadata;
}

const base64 = (content: Uint8Array) => Buffer.from(content).toString("base64");

/**
 * The simulated prefecture, as @ctes behaves: a transmission whose archive or envelope cannot be
 * processed is refused at once; one that is taken is answered later on the returns flow, with an
 * ARActe (exchange 1-2) or, if the act is not acceptable, an AnomalieActe (1-3), both copying the
 * act's metadata. Cancellations (6-1) get their ARAnnulation (6-2); simple letters (2-1) come with
 * their PDF. A transmission received twice gets the same answer, once; an act identifier already
 * transmitted is an anomaly. Every message it writes is checked against the @ctes schema first.
 */
export function prefectureSimulator(): ServiceDefinition<SimulatorSettings> {
  const timers = new Set<NodeJS.Timeout>();
  let archives: ObjectFiles;
  /**
   * The archive a collectivity handed over, read whole (a simulator may hold 150 MB) and kept
   * under its name; one that is not what the collectivity announced is refused, and it sends it again.
   */
  const deliveredBytes = async (collectivity: string, archiveName: string, delivered: ExchangeArchive["archive"]): Promise<Buffer> => {
    const parts: Uint8Array[] = [];
    await archives.handedOver(collectivity, delivered, `${collectivity}/${archiveName}`, (chunk) => parts.push(chunk));
    return Buffer.concat(parts);
  };
  let stopped = false;
  // Returns go on the collectivity's own subject: a dedicated deployment's account imports only its own.
  const publishReturn = async (context: ServiceContext<SimulatorSettings>, collectivity: string, message: PrefectureReturn) => {
    await jetstream(context.nats).publish(`${context.settings.PREFECTURE_SUBJECT}.${collectivity}.returns.${message.actId}`, JSON.stringify(message), {
      msgID: `${message.actId}/${message.envelope.name}`,
    });
  };
  // A return that cannot be sent (NATS away for a moment) is sent again, later and later, until it
  // goes: the prefecture never forgets an answer it owes.
  const later = (context: ServiceContext<SimulatorSettings>, work: () => Promise<void>, delayMs = context.settings.SIMULATOR_ACK_DELAY_MS, attempt = 0) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      work().catch((error: unknown) => {
        if (stopped) return;
        const retryMs = retryDelayMs(attempt);
        context.log.warn({ err: error, retryMs }, "could not send a return: will send it again");
        later(context, work, retryMs, attempt + 1);
      });
    }, delayMs);
    timers.add(timer);
  };
  const answer = (context: ServiceContext<SimulatorSettings>, repository: TransmissionRepository, collectivity: string, message: PrefectureReturn) =>
    later(context, async () => {
      await publishReturn(context, collectivity, message);
      await repository.markReturned(message.actId);
    });
  /** A message the simulator writes must be valid @ctes: a fault here is the simulator's. */
  const checked = (name: string, xml: Buffer) => {
    const problems = validateActes(xml);
    if (problems.length > 0) throw new Error(`the simulator wrote ${name} against the @ctes schema: ${problems.join("; ")}`);
    return { name, content: base64(xml) };
  };

  return {
    description: "Simulated prefecture (@ctes) for the local platform",
    async onStart(context) {
      stopped = false;
      archives = await ObjectFiles.open(context.nats, "PREFECTURE_ARCHIVES", {
        replicas: context.settings.NATS_STREAM_REPLICAS,
        maxBytes: context.settings.SIMULATOR_ARCHIVES_MAX_BYTES,
        maxAgeSeconds: context.settings.SIMULATOR_ARCHIVES_MAX_AGE_SECONDS,
      });
      // Answers promised before a restart are sent now.
      const repository = new TransmissionRepository(context.database);
      for (const pending of await repository.pending()) if (pending.answer) answer(context, repository, pending.collectivity, pending.answer);
    },
    async onStop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
    },
    endpoints: (context) => {
      const repository = new TransmissionRepository(context.database);
      // The prefecture's messages of a day to a collectivity, numbered from 1: their envelopes' names never repeat.
      const sequences = new SequenceRepository(context.database, "envelope-sequences");
      const classifications = new ClassificationRepository(context.database);
      const today = () => parisDay(new Date());
      const letters = new SentLetters(context.database);
      const identifiers = new AcknowledgedIdentifiers(context.database);
      const scripts = new Scripts(context.database);
      /** A message of the collectivity about one of its acts the prefecture took, read from its archive. */
      const collectivityMessage = async ({ actId, archiveName, archive }: ExchangeArchive, collectivity: string) => {
        const known = await repository.find(actId);
        if (!known?.identifier || !known.emitter || known.collectivity !== collectivity) throw new NotFound(`no act ${actId} transmitted by ${collectivity}`);
        let message: CollectivityMessage;
        try {
          message = readCollectivityMessage(receiveMessage(archiveName, await deliveredBytes(collectivity, archiveName, archive), maxArchiveBytes).xml);
        } catch (error) {
          throw new InvalidRequest(`the message cannot be taken: ${(error as Error).message}`);
        }
        if (message.identifier !== known.identifier) throw new InvalidRequest(`the message names the act ${message.identifier}, not ${known.identifier}`);
        return { actId, known, message };
      };
      /** A letter about an act: its XML, its PDF, in the prefecture's envelope, on the returns flow. */
      const sendLetter = async (known: Pick<Transmission, "_id" | "collectivity" | "identifier" | "emitter">, kind: LetterKind, text: string) => {
        const on = today();
        const names = exchangeFileNames(known.identifier!, letterKinds[kind].exchange);
        const document = names.file("99_CO", 1, "pdf");
        const pdf = letterPdf(`Préfecture — ${letterKinds[kind].label.toLowerCase()}`, [`Acte ${known.identifier}`, `Le ${on}`, "", ...text.split("\n")]);
        const xml = checked(names.metadata, prefectureLetterXml(kind, known.identifier!, on, { document, text }));
        await letters.record(known._id, kind, on);
        await publishReturn(context, known.collectivity, await enveloped(known._id, known.emitter!, xml, [{ name: document, content: base64(pdf) }]));
      };
      /** A message to the collectivity, in the prefecture's envelope of the day's next number. */
      const enveloped = async (
        actId: string,
        to: { siren: string; departement: string },
        message: { name: string; content: string },
        files?: { name: string; content: string }[],
      ): Promise<PrefectureReturn> => {
        const day = today();
        const name = prefectureEnvelopeName(to.siren, day, await sequences.next(`${to.siren}/${day}`));
        return { actId, envelope: checked(name, prefectureEnvelopeXml(to.departement, to.siren, [message.name])), message, ...(files ? { files } : {}) };
      };
      return [
        {
          name: "archive",
          subject: `${context.settings.PREFECTURE_SUBJECT}.*.archive`,
          callers: allow.platform(),
          schema: handedChunk,
          handle: (request, { subject }) => archives.takeChunk(subject.split(".").at(-2)!, request as HandedChunk),
        },
        {
          name: "submit",
          // The collectivity is the subject's: its account can only send on its own.
          subject: `${context.settings.PREFECTURE_SUBJECT}.*.submit`,
          callers: allow.platform(),
          schema: exchangeArchive,
          handle: async (request, { subject }) => {
            const collectivity = subject.split(".").at(-2)!;
            const { actId, archiveName, archive } = request as ExchangeArchive;
            const known = await repository.find(actId);
            if (known) return known.reply;
            let received: ReceivedAct | undefined;
            let reply: TransmissionReply = { received: true };
            let acknowledged = false;
            let message: PrefectureReturn | undefined;
            const classification = await classifications.current(context.settings.SIMULATOR_CLASSIFICATION_VERSION);
            const version = classification.date;
            const anomaly = (to: { siren: string; departement: string }, nature: AnomalyNature, detail: string, act: ActMetadata, identifier: string) =>
              enveloped(actId, to, checked(answerName(identifier, "1-3"), anomalieActeXml(today(), nature, detail, act, version)));
            try {
              received = receiveTransmission(archiveName, await deliveredBytes(collectivity, archiveName, archive), maxArchiveBytes + 1024 * 1024);
              if (!isValidSiren(received.emitter.siren)) {
                throw new Anomaly("enveloppe", `SIREN ${received.emitter.siren} invalide : émetteur inconnu de la préfecture`, undefined, undefined, received.emitter, received.envelope);
              }
              // The act's matière and its files' typologies, against the classification in force.
              const outOfClassification = classificationProblems(classification, {
                nature: received.act.nature,
                classification: received.act.classification,
                files: received.files.map((file, i) => ({ where: i === 0 ? "document" : `annexes.${i - 1}`, typology: file.name.slice(0, 5) })),
              });
              // An act refused for its content does not hold its identifier; an acknowledged one does, for good.
              if (outOfClassification.length > 0) {
                message = await anomaly(received.emitter, "011", `non conforme à la classification du ${version} : ${outOfClassification.join(" ; ")}`, received.metadata, received.identifier);
              } else if (!(await identifiers.claim(received.identifier, actId))) {
                message = await anomaly(received.emitter, "002", `l'identifiant d'acte ${received.identifier} a déjà été transmis`, received.metadata, received.identifier);
              } else {
                message = await enveloped(actId, received.emitter, checked(answerName(received.identifier, "1-2"), arActeXml(received.identifier, today(), received.metadata, version)));
                acknowledged = true;
              }
            } catch (error) {
              if (!(error instanceof Anomaly)) throw error;
              // An act whose metadata could be read is answered with an AnomalieActe; an archive or
              // envelope that cannot be processed is refused at once.
              if (error.act && error.identifier) message = await anomaly(error.emitter!, "001", error.detail, error.act, error.identifier);
              else if (error.envelope && error.emitter) {
                // An envelope it could read but not process: an AnomalieEnveloppe that copies it, later.
                const nature = error.detail.includes("émetteur inconnu") ? "003" : error.detail.includes("absent") ? "002" : "001";
                const xml = anomalieEnveloppeXml(today(), nature, error.detail, error.envelope);
                message = await enveloped(actId, error.emitter, checked(archiveName.replace(/^[0-9A-Z]{3}-/, "").replace(/\.tar\.gz$/, "-anomalie.xml"), xml));
              } else reply = { received: false, reason: error.message };
            }
            await repository.record({
              _id: actId,
              collectivity,
              reply,
              archiveName,
              ...(received ? { identifier: received.identifier, act: received.act, emitter: { siren: received.emitter.siren, departement: received.emitter.departement } } : {}),
              ...(message ? { answer: message } : {}),
              returned: !message,
              receivedAt: new Date(),
            });
            if (message) answer(context, repository, collectivity, message);
            // Letters the collectivity's script asks for, after the acknowledgement.
            if (received && acknowledged) {
              const script = await scripts.take(collectivity);
              const transmission = { _id: actId, collectivity, identifier: received.identifier, emitter: received.emitter };
              for (const letter of script) later(context, () => sendLetter(transmission, letter.kind, letter.text), context.settings.SIMULATOR_ACK_DELAY_MS * 2);
            }
            return reply;
          },
        },
        {
          name: "cancel",
          // Exchange 6-1, as an archive like every exchange; acknowledged with an ARAnnulation (6-2).
          subject: `${context.settings.PREFECTURE_SUBJECT}.*.cancel`,
          callers: allow.platform(),
          schema: exchangeArchive,
          handle: async (request, { subject }) => {
            const collectivity = subject.split(".").at(-2)!;
            const { actId, known, message } = await collectivityMessage(request as ExchangeArchive, collectivity);
            if (message.kind !== "Annulation") throw new InvalidRequest(`a cancellation is an Annulation, not a ${message.kind}`);
            const acknowledgement = await enveloped(actId, known.emitter!, checked(answerName(known.identifier!, "6-2"), arAnnulationXml(known.identifier!, today())));
            later(context, () => publishReturn(context, collectivity, acknowledgement));
            return { received: true };
          },
        },
        {
          name: "reply",
          // The collectivity's answers to the prefecture's letters (2-2, 3-2 to 3-4, 4-2 to 4-4).
          subject: `${context.settings.PREFECTURE_SUBJECT}.*.reply`,
          callers: allow.platform(),
          schema: exchangeArchive,
          handle: async (request, { subject }) => {
            const collectivity = subject.split(".").at(-2)!;
            const { actId, known, message } = await collectivityMessage(request as ExchangeArchive, collectivity);
            if (message.kind === "Annulation") throw new InvalidRequest("a cancellation goes to the cancel subject");
            const letter = await letters.find(actId, answers[message.kind].to, message.letterDate);
            if (!letter) throw new InvalidRequest(`no ${answers[message.kind].to} of ${message.letterDate} about act ${known.identifier}`);
            // Documents sent or refused, observations answered or rejected: the prefecture acknowledges them.
            const acknowledgement = (Object.entries(answerAcknowledgements) as [AnswerAcknowledgementKind, { to: string; exchange: ExchangeCode }][]).find(
              ([, rule]) => rule.to === letter.kind,
            );
            if (acknowledgement && answers[message.kind].next === "documentSent") {
              const [kind, rule] = acknowledgement;
              const xml = checked(answerName(known.identifier!, rule.exchange), answerAcknowledgementXml(kind, known.identifier!, message.letterDate, today()));
              const answerMessage = await enveloped(actId, known.emitter!, xml);
              later(context, () => publishReturn(context, collectivity, answerMessage));
            }
            return { received: true };
          },
        },
        {
          name: "classification",
          // Exchange 7-1: a collectivity asks for the classification in force, naming the one it has.
          subject: `${context.settings.PREFECTURE_SUBJECT}.*.classification`,
          callers: allow.platform(),
          schema: z.object({ message: z.object({ name: z.string().min(1).max(200), content: z.string().min(1) }) }),
          handle: async (request) => {
            const xml = Buffer.from((request as { message: { content: string } }).message.content, "base64");
            const problems = validateActes(xml);
            if (problems.length > 0) throw new InvalidRequest("the classification request does not follow the @ctes schema", { details: problems });
            const named = readActes(xml, (document) =>
              document.root === "DemandeClassification" ? document.text("/actes:DemandeClassification/actes:DateClassification") : undefined,
            );
            if (named === undefined) throw new InvalidRequest("a classification is asked for with a DemandeClassification");
            const current = await classifications.current(context.settings.SIMULATOR_CLASSIFICATION_VERSION);
            const answer = named === current.date ? unchangedClassificationXml(current.date) : retourClassificationXml(current);
            return { message: checked(`classification-${current.date}.xml`, answer) };
          },
        },
        {
          name: "publish-classification",
          // For the demo and the tests: the prefectures put a new classification in force.
          subject: `${context.settings.PREFECTURE_SUBJECT}.classification.publish`,
          callers: allow.platform(),
          schema: z.object({
            date: z.iso.date(),
            matieres: z.array(z.object({ code: z.string().regex(/^[1-9](\.[1-9][0-9]?){2,4}$/), label: z.string().min(1).max(200) })).max(100).default([]),
          }),
          handle: async (request) => {
            const { date, matieres } = request as { date: string; matieres: { code: string; label: string }[] };
            await classifications.publish(date, matieres);
            return { date, matieres: (await classifications.current(date)).matieres.length };
          },
        },
        {
          name: "letter",
          // For the demo and the tests: the prefecture writes about an act (2-1, 3-1, 4-1, 5-1).
          subject: `${context.settings.PREFECTURE_SUBJECT}.letter`,
          callers: allow.platform(),
          schema: letterRequest,
          handle: async (request) => {
            const { actId, kind, text } = request as z.infer<typeof letterRequest>;
            const known = await repository.find(actId);
            if (!known?.identifier || !known.emitter) throw new NotFound(`no act ${actId} acknowledged by the prefecture`);
            await sendLetter(known, kind, text);
            return { sent: kind };
          },
        },
        {
          name: "script",
          // For the demo and the tests: the letters the prefecture sends after acknowledging a collectivity's next act.
          subject: `${context.settings.PREFECTURE_SUBJECT}.script`,
          callers: allow.platform(),
          schema: z.object({ collectivity: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/), letters: z.array(letterRequest.omit({ actId: true })).max(10) }),
          handle: async (request) => {
            const { collectivity, letters: script } = request as { collectivity: string; letters: { kind: LetterKind; text: string }[] };
            await scripts.set(collectivity, script);
            return { collectivity, letters: script.length };
          },
        },
      ];
    },
  };
}
