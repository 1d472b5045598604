import type { NatsConnection } from "@nats-io/transport-node";
import { ensureWorkQueue } from "@mutualis/service-kit";

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
  await ensureWorkQueue(nc, { name: names.transmissions, subjects: [`${names.transmitSubject}.>`], durable: "actes", replicas, maxBytes });
  await ensureWorkQueue(nc, { name: names.returns, subjects: [`${names.returnsSubject}.>`], durable: "actes", replicas, maxBytes });
}
