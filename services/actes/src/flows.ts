import { AckPolicy, jetstream, jetstreamManager, DiscardPolicy, RetentionPolicy, StorageType, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { Conflict, retryDelayMs, statusOf, type Logger } from "@mutualis/service-kit";

export interface FlowNames {
  readonly transmissions: string;
  readonly returns: string;
  readonly transmitSubject: string;
  readonly returnsSubject: string;
}

export function flowNames(streamPrefix: string, prefectureSubject: string): FlowNames {
  return {
    transmissions: `${streamPrefix}_TRANSMISSIONS`,
    returns: `${streamPrefix}_RETURNS`,
    transmitSubject: "actes.transmit",
    returnsSubject: `${prefectureSubject}.*.returns`,
  };
}

/**
 * The two durable flows: acts waiting to be transmitted (a work queue, deduplicated on the
 * act's id) and what the prefecture sends back. Both survive restarts of NATS and the service.
 */
export async function ensureStreams(nc: NatsConnection, names: FlowNames, replicas = 1, maxBytes = 256 * 2 ** 20): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const streams = [
    { name: names.transmissions, subjects: [`${names.transmitSubject}.>`] },
    { name: names.returns, subjects: [`${names.returnsSubject}.>`] },
  ];
  for (const stream of streams) {
    const config = {
      ...stream,
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: replicas,
      duplicate_window: nanos(10 * 60 * 1000),
      // Bounded, as a collectivity's account requires of every stream (the operator's JetStream
      // limits); when full, new messages are refused (the act stays posted and is queued again),
      // never old ones dropped.
      max_bytes: maxBytes,
      discard: DiscardPolicy.New,
    };
    try {
      await jsm.streams.info(stream.name);
      await jsm.streams.update(stream.name, config);
    } catch {
      await jsm.streams.add(config);
    }
    await jsm.consumers.add(stream.name, { durable_name: "actes", ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000), max_deliver: -1 });
  }
}

/** A flow being consumed; close() stops it. */
export interface FlowConsumer {
  close(): Promise<void>;
}

/**
 * Consumes one flow until stopped. A handler that throws leaves the message to be delivered
 * again after a delay; a Conflict (the event was already applied) is acknowledged. If the
 * client's consumption ends on its own (the server answered a pull with an error it does not
 * retry, around a NATS restart), it is started again: a flow is never left unread.
 */
export async function consumeFlow(
  nc: NatsConnection,
  stream: string,
  handle: (msg: JsMsg) => Promise<void>,
  log: Logger,
  /** How many messages are handled at once: 1 where their order matters (an act's returns). */
  concurrency = 1,
): Promise<FlowConsumer> {
  let messages: ConsumerMessages = await (await jetstream(nc).consumers.get(stream, "actes")).consume({ max_messages: 16 });
  let closed = false;
  let wake = () => {};
  const running = (async () => {
    for (let attempt = 0; !closed; ) {
      try {
        const inFlight = new Set<Promise<void>>();
        for await (const msg of messages) {
          attempt = 0;
          const handled: Promise<void> = handleOne(msg, stream, handle, log).finally(() => inFlight.delete(handled));
          inFlight.add(handled);
          if (inFlight.size >= concurrency) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      } catch (error) {
        if (!closed) log.warn({ stream, err: error }, "the flow's consumption stopped with an error");
      }
      if (closed) return;
      const retryMs = retryDelayMs(attempt++);
      log.warn({ stream, retryMs }, "the flow's consumption ended: starting it again");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retryMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (closed) return;
      try {
        messages = await (await jetstream(nc).consumers.get(stream, "actes")).consume({ max_messages: 16 });
      } catch (error) {
        log.warn({ stream, err: error }, "the flow's consumer cannot be reached yet");
      }
    }
  })();
  return {
    async close() {
      closed = true;
      wake();
      await messages.close();
      await running;
    },
  };
}

async function handleOne(msg: JsMsg, stream: string, handle: (msg: JsMsg) => Promise<void>, log: Logger): Promise<void> {
  // A long one (an act of 150 MB) tells the server it is still at work, so it is not delivered twice.
  const working = setInterval(() => msg.working(), 10_000);
  try {
    await handle(msg);
    msg.ack();
  } catch (error) {
    if (error instanceof Conflict) {
      log.info({ stream, subject: msg.subject, reason: error.message }, "event already applied");
      msg.ack();
    } else {
      const retryMs = retryDelayMs(msg.info.deliveryCount);
      (statusOf(error) >= 500 ? log.warn.bind(log) : log.info.bind(log))({ stream, subject: msg.subject, err: error, retryMs }, "will retry");
      msg.nak(retryMs);
    }
  } finally {
    clearInterval(working);
  }
}
