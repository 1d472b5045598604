import { jetstream } from "@nats-io/jetstream";
import { Anomaly, maxArchiveBytes, receiveTransmission, type PrefectureReturn, type ReceivedAct, type TransmissionReply } from "@mutualis/actes";
import { isValidSiren } from "@mutualis/api";
import { allow, baseSettings, NotFound, Repository, retryDelayMs, type Database, type ServiceContext, type ServiceDefinition } from "@mutualis/service-kit";
import { z } from "zod";

export const simulatorSettings = baseSettings.extend({
  PREFECTURE_SUBJECT: z.string().default("prefecture.actes"),
  /** How long the simulated prefecture takes to acknowledge. */
  SIMULATOR_ACK_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(200),
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
  /** Another transmission the prefecture took under the same act identifier. */
  withIdentifier(collectivity: string, identifier: string, actId: string) {
    return this.collection.findOne({ collectivity, identifier, _id: { $ne: actId } });
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

/**
 * The simulated prefecture: answers each transmission at once (received or refused with a
 * reason), then acknowledges it on the returns flow after a delay, as the real one does. A
 * transmission received twice gets the same answer and one acknowledgement.
 */
export function prefectureSimulator(): ServiceDefinition<SimulatorSettings> {
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  // Returns go on the collectivity's own subject: a dedicated deployment's account imports only its own.
  const publishReturn = async (context: ServiceContext<SimulatorSettings>, collectivity: string, message: PrefectureReturn, id: string) => {
    await jetstream(context.nats).publish(`${context.settings.PREFECTURE_SUBJECT}.${collectivity}.returns.${message.actId}`, JSON.stringify(message), { msgID: id });
  };
  // A return that cannot be sent (NATS away for a moment) is sent again, later and later, until it
  // goes: the prefecture never forgets an acknowledgement it owes.
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
  const acknowledge = (context: ServiceContext<SimulatorSettings>, repository: TransmissionRepository, collectivity: string, actId: string, identifier: string) =>
    later(context, async () => {
      await publishReturn(context, collectivity, { actId, type: "acknowledgement", identifier, receivedAt: new Date().toISOString() }, `ack-${actId}`);
      await repository.markReturned(actId);
    });

  return {
    description: "Simulated prefecture (@ctes) for the local platform",
    async onStart(context) {
      stopped = false;
      // Acknowledgements promised before a restart are sent now.
      const repository = new TransmissionRepository(context.database);
      for (const pending of await repository.pending()) acknowledge(context, repository, pending.collectivity, pending._id, pending.identifier!);
    },
    async onStop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
    },
    endpoints: (context) => {
      const repository = new TransmissionRepository(context.database);
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
            let identifier: string | undefined;
            let received: ReceivedAct | undefined;
            let reason: string | undefined;
            try {
              received = receiveTransmission(archiveName, Buffer.from(archive, "base64"), maxArchiveBytes + 1024 * 1024);
              if (!isValidSiren(received.emitter.siren)) throw new Anomaly("enveloppe", `SIREN ${received.emitter.siren} invalide`);
              const duplicate = await repository.withIdentifier(collectivity, received.identifier, actId);
              if (duplicate) throw new Anomaly("acte", `l'identifiant d'acte ${received.identifier} a déjà été transmis`);
              identifier = received.identifier;
            } catch (error) {
              if (!(error instanceof Anomaly)) throw error;
              reason = error.message;
            }
            const reply: TransmissionReply = reason ? { received: false, reason } : { received: true };
            await repository.record({
              _id: actId,
              collectivity,
              reply,
              archiveName,
              ...(identifier ? { identifier } : {}),
              ...(received ? { act: received.act } : {}),
              returned: !identifier,
              receivedAt: new Date(),
            });
            if (identifier) acknowledge(context, repository, collectivity, actId, identifier);
            return reply;
          },
        },
        {
          name: "cancel",
          subject: `${context.settings.PREFECTURE_SUBJECT}.*.cancel`,
          callers: allow.platform(),
          schema: z.object({ actId: z.string() }),
          handle: async (request, { subject }) => {
            const { actId } = request as { actId: string };
            const collectivity = subject.split(".").at(-2)!;
            later(context, () => publishReturn(context, collectivity, { actId, type: "cancellation", receivedAt: new Date().toISOString() }, `cancel-${actId}`));
            return { received: true };
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
            if (!known) throw new NotFound(`no transmission ${actId}`);
            await publishReturn(context, known.collectivity, { actId, type: "courrier", kind: "courrier simple", text }, `courrier-${actId}-${Date.now()}`);
            return { sent: true };
          },
        },
      ];
    },
  };
}
