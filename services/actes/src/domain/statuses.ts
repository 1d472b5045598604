import { Conflict } from "@mutualis/service-kit";

/**
 * The life of a transmitted act, with the codes S²LOW reports (as Pastell reads them):
 * 1 Posté, 2 En attente de transmission, 3 Transmis, 4 Acquittement reçu, 6 Refusé, −1 Erreur,
 * and the cancellation flow (demande d'annulation, 0 Annulé).
 */
export const actStatuses = {
  posted: { s2low: 1, label: "Posté" },
  waitingForTransmission: { s2low: 2, label: "En attente de transmission" },
  transmitted: { s2low: 3, label: "Transmis" },
  acknowledged: { s2low: 4, label: "Acquittement reçu" },
  refused: { s2low: 6, label: "Refusé" },
  error: { s2low: -1, label: "Erreur" },
  cancellationAsked: { s2low: 4, label: "Annulation demandée" },
  cancelled: { s2low: 0, label: "Annulé" },
} as const;

export type ActStatus = keyof typeof actStatuses;

export type ActEvent =
  | { type: "queued" }
  | { type: "sent" }
  | { type: "acknowledged"; identifier: string; receivedAt: string }
  | { type: "refused"; reason: string }
  | { type: "failed"; reason: string }
  | { type: "cancellationRequested" }
  | { type: "cancellationAcknowledged" };

/** Which event moves an act from which status to which. */
const transitions: Record<ActStatus, Partial<Record<ActEvent["type"], ActStatus>>> = {
  posted: { queued: "waitingForTransmission", failed: "error" },
  waitingForTransmission: { sent: "transmitted", failed: "error" },
  transmitted: { acknowledged: "acknowledged", refused: "refused", failed: "error" },
  acknowledged: { cancellationRequested: "cancellationAsked" },
  cancellationAsked: { cancellationAcknowledged: "cancelled" },
  refused: {},
  error: { queued: "waitingForTransmission" },
  cancelled: {},
};

/** Statuses an act never leaves. */
export function isFinal(status: ActStatus): boolean {
  return Object.keys(transitions[status]).length === 0;
}

/** The status after `event`, or a Conflict saying why the event does not apply now. */
export function nextStatus(current: ActStatus, event: ActEvent): ActStatus {
  const next = transitions[current][event.type];
  if (!next) {
    throw new Conflict(`an act that is ${actStatuses[current].label.toLowerCase()} cannot take the event "${event.type}"`);
  }
  return next;
}
