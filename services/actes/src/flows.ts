import { AckPolicy, jetstreamManager, DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";

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
