import { jetstream } from "@nats-io/jetstream";
import {
  Anomaly,
  anomalieActeXml,
  classificationProblems,
  arActeXml,
  arAnnulationXml,
  courrierSimpleXml,
  exchangeFileNames,
  maxArchiveBytes,
  parisDay,
  prefectureEnvelopeName,
  prefectureEnvelopeXml,
  readActes,
  receiveTransmission,
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
import { allow, baseSettings, InvalidRequest, NotFound, Repository, retryDelayMs, type Database, type ServiceContext, type ServiceDefinition } from "@mutualis/service-kit";
import { nationalClassification } from "./classification.ts";
import { letterPdf } from "./letter.ts";
import { z } from "zod";

export const simulatorSettings = baseSettings.extend({
  PREFECTURE_SUBJECT: z.string().default("prefecture.actes"),
  /** How long the simulated prefecture takes to acknowledge. */
  SIMULATOR_ACK_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(200),
  /** The classification the simulated prefectures have in force until told another, which every acknowledgement names. */
  SIMULATOR_CLASSIFICATION_VERSION: z.iso.date().default("2026-01-01"),
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
  /** Another transmission the prefecture took under the same act identifier (it holds the SIREN: one collectivity's). */
  withIdentifier(identifier: string, actId: string) {
    return this.collection.findOne({ identifier, _id: { $ne: actId } });
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

/** The prefecture's messages of a day to a collectivity, numbered from 1: their envelopes' names never repeat. */
class EnvelopeSequences extends Repository<{ _id: string; n: number }> {
  constructor(database: Database) {
    super(database, "envelope-sequences");
  }
  async next(key: string): Promise<number> {
    return (await this.collection.findOneAndUpdate({ _id: key }, { $inc: { n: 1 } }, { upsert: true, returnDocument: "after" }))!.n;
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
      const sequences = new EnvelopeSequences(context.database);
      const classifications = new ClassificationRepository(context.database);
      const today = () => parisDay(new Date());
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
          name: "submit",
          // The collectivity is the subject's: its account can only send on its own.
          subject: `${context.settings.PREFECTURE_SUBJECT}.*.submit`,
          callers: allow.platform(),
          schema: z.object({ actId: z.string().min(1).max(100), archiveName: z.string().min(1).max(200), archive: z.string().min(1) }),
          handle: async (request, { subject }) => {
            const collectivity = subject.split(".").at(-2)!;
            const { actId, archiveName, archive } = request as { actId: string; archiveName: string; archive: string };
            const known = await repository.find(actId);
            if (known) return known.reply;
            let received: ReceivedAct | undefined;
            let reply: TransmissionReply = { received: true };
            let message: PrefectureReturn | undefined;
            const classification = await classifications.current(context.settings.SIMULATOR_CLASSIFICATION_VERSION);
            const version = classification.date;
            const anomaly = (to: { siren: string; departement: string }, nature: AnomalyNature, detail: string, act: ActMetadata, identifier: string) =>
              enveloped(actId, to, checked(answerName(identifier, "1-3"), anomalieActeXml(today(), nature, detail, act, version)));
            try {
              received = receiveTransmission(archiveName, Buffer.from(archive, "base64"), maxArchiveBytes + 1024 * 1024);
              if (!isValidSiren(received.emitter.siren)) throw new Anomaly("enveloppe", `SIREN ${received.emitter.siren} invalide`);
              // The act's matière and its files' typologies, against the classification in force.
              const outOfClassification = classificationProblems(classification, {
                nature: received.act.nature,
                classification: received.act.classification,
                files: received.files.map((file, i) => ({ where: i === 0 ? "document" : `annexes.${i - 1}`, typology: file.name.slice(0, 5) })),
              });
              if (await repository.withIdentifier(received.identifier, actId)) {
                message = await anomaly(received.emitter, "002", `l'identifiant d'acte ${received.identifier} a déjà été transmis`, received.metadata, received.identifier);
              } else if (outOfClassification.length > 0) {
                message = await anomaly(received.emitter, "011", `non conforme à la classification du ${version} : ${outOfClassification.join(" ; ")}`, received.metadata, received.identifier);
              } else {
                message = await enveloped(actId, received.emitter, checked(answerName(received.identifier, "1-2"), arActeXml(received.identifier, today(), received.metadata, version)));
              }
            } catch (error) {
              if (!(error instanceof Anomaly)) throw error;
              // An act whose metadata could be read is answered with an AnomalieActe; an archive or
              // envelope that cannot be processed is refused at once.
              if (error.act && error.identifier) message = await anomaly(error.emitter!, "001", error.detail, error.act, error.identifier);
              else reply = { received: false, reason: error.message };
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
            return reply;
          },
        },
        {
          name: "cancel",
          subject: `${context.settings.PREFECTURE_SUBJECT}.*.cancel`,
          callers: allow.platform(),
          schema: z.object({ actId: z.string(), message: z.object({ name: z.string().min(1).max(200), content: z.string().min(1) }) }),
          handle: async (request, { subject }) => {
            const { actId, message } = request as { actId: string; message: { name: string; content: string } };
            const collectivity = subject.split(".").at(-2)!;
            const known = await repository.find(actId);
            if (!known?.identifier || known.collectivity !== collectivity) throw new NotFound(`no act ${actId} transmitted by ${collectivity}`);
            const xml = Buffer.from(message.content, "base64");
            const problems = validateActes(xml);
            if (problems.length > 0) throw new InvalidRequest("the cancellation does not follow the @ctes schema", { details: problems });
            const named = readActes(xml, (document) => (document.root === "Annulation" ? document.text("/actes:Annulation/@actes:IDActe") : undefined));
            if (named !== known.identifier) throw new InvalidRequest(`the cancellation names ${named ?? "no act"}, not the act ${known.identifier}`);
            const acknowledgement = await enveloped(actId, known.emitter!, checked(answerName(known.identifier, "6-2"), arAnnulationXml(known.identifier, today())));
            later(context, () => publishReturn(context, collectivity, acknowledgement));
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
          name: "courrier",
          subject: `${context.settings.PREFECTURE_SUBJECT}.courrier`,
          callers: allow.platform(),
          schema: z.object({ actId: z.string(), text: z.string().min(1).max(5000) }),
          handle: async (request) => {
            const { actId, text } = request as { actId: string; text: string };
            const known = await repository.find(actId);
            if (!known?.identifier) throw new NotFound(`no transmission ${actId}`);
            const on = today();
            const letterName = exchangeFileNames(known.identifier, "2-1").file("99_CO", 1, "pdf");
            const letter = letterPdf("Préfecture — contrôle de légalité", [`Acte ${known.identifier}`, `Le ${on}`, "", ...text.split("\n")]);
            const xml = checked(answerName(known.identifier, "2-1"), courrierSimpleXml(known.identifier, on, letterName));
            await publishReturn(context, known.collectivity, await enveloped(actId, known.emitter!, xml, [{ name: letterName, content: base64(letter) }]));
            return { sent: true };
          },
        },
      ];
    },
  };
}
