import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { Conflict, statusOf } from "./errors.ts";
import type { Logger } from "./log.ts";
import { retryDelayMs } from "./retry.ts";

/**
 * A durable work queue: a stream on disk that survives restarts of NATS and the services,
 * deduplicating messages by their id for ten minutes, bounded (as a collectivity's account
 * requires of every stream; when full, new messages are refused, never old ones dropped), made or
 * brought to this configuration, and its one durable consumer.
 */
export async function ensureWorkQueue(
  nc: NatsConnection,
  queue: { readonly name: string; readonly subjects: string[]; readonly durable: string; readonly replicas?: number; readonly maxBytes: number; readonly ackWaitMs?: number },
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: queue.name,
    subjects: queue.subjects,
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: queue.replicas ?? 1,
    duplicate_window: nanos(10 * 60 * 1000),
    max_bytes: queue.maxBytes,
    discard: DiscardPolicy.New,
  };
  try {
    await jsm.streams.info(queue.name);
    await jsm.streams.update(queue.name, config);
  } catch {
    await jsm.streams.add(config);
  }
  await jsm.consumers.add(queue.name, { durable_name: queue.durable, ack_policy: AckPolicy.Explicit, ack_wait: nanos(queue.ackWaitMs ?? 30_000), max_deliver: -1 });
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
  options: {
    /** The durable consumer's name. */
    readonly durable: string;
    /** How many messages are handled at once: 1 where their order matters (an act's returns). */
    readonly concurrency?: number;
    /**
     * After this many deliveries, a message that still fails is parked: `park` records why, for
     * a person to act on, and the message is acknowledged. Without it, a message is retried for ever.
     */
    readonly maxDeliveries?: number;
    readonly park?: (msg: JsMsg, error: unknown) => Promise<void>;
  },
): Promise<FlowConsumer> {
  const concurrency = options.concurrency ?? 1;
  const handleOne = (msg: JsMsg) => handleMessage(msg, stream, handle, log, options);
  let messages: ConsumerMessages = await (await jetstream(nc).consumers.get(stream, options.durable)).consume({ max_messages: 16 });
  let closed = false;
  let wake = () => {};
  const running = (async () => {
    for (let attempt = 0; !closed; ) {
      try {
        const inFlight = new Set<Promise<void>>();
        for await (const msg of messages) {
          attempt = 0;
          const handled: Promise<void> = handleOne(msg).finally(() => inFlight.delete(handled));
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
        messages = await (await jetstream(nc).consumers.get(stream, options.durable)).consume({ max_messages: 16 });
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

async function handleMessage(msg: JsMsg, stream: string, handle: (msg: JsMsg) => Promise<void>, log: Logger, options: { readonly maxDeliveries?: number; readonly park?: (msg: JsMsg, error: unknown) => Promise<void> }): Promise<void> {
  // A long one (an act of 150 MB) tells the server it is still at work, so it is not delivered twice.
  const working = setInterval(() => msg.working(), 10_000);
  try {
    await handle(msg);
    msg.ack();
  } catch (error) {
    if (error instanceof Conflict) {
      log.info({ stream, subject: msg.subject, reason: error.message }, "event already applied");
      msg.ack();
    } else if (options.maxDeliveries !== undefined && options.park && msg.info.deliveryCount >= options.maxDeliveries) {
      log.warn({ stream, subject: msg.subject, err: error, deliveries: msg.info.deliveryCount }, "parked after its last try");
      try {
        await options.park(msg, error);
        msg.ack();
      } catch (parking) {
        log.error({ stream, subject: msg.subject, err: parking }, "could not be parked: it will be delivered again");
        msg.nak(retryDelayMs(msg.info.deliveryCount));
      }
    } else {
      const retryMs = retryDelayMs(msg.info.deliveryCount);
      (statusOf(error) >= 500 ? log.warn.bind(log) : log.info.bind(log))({ stream, subject: msg.subject, err: error, retryMs }, "will retry");
      msg.nak(retryMs);
    }
  } finally {
    clearInterval(working);
  }
}
