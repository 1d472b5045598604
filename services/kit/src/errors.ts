/**
 * The kinds of failure a service reports. Each is mapped to an HTTP status and a NATS service
 * error code in exactly one place (`statusOf`), so an error means the same on both transports.
 */
export class ServiceError extends Error {
  override name = "ServiceError";
  /** Details safe to show the caller (never secrets). */
  readonly details: readonly string[];
  constructor(message: string, options: { cause?: unknown; details?: readonly string[] } = {}) {
    super(message, { cause: options.cause });
    this.details = options.details ?? [];
  }
}

/** The request is malformed: the caller must change it. */
export class InvalidRequest extends ServiceError {
  override name = "InvalidRequest";
}

export class Unauthorized extends ServiceError {
  override name = "Unauthorized";
}

export class Forbidden extends ServiceError {
  override name = "Forbidden";
}

export class NotFound extends ServiceError {
  override name = "NotFound";
}

/**
 * Another responder serves this request: this one stays silent. A shared deployment raises it
 * for a collectivity that has its own dedicated deployment, which answers on the same subject.
 */
export class NoReply extends Error {
  override name = "NoReply";
}

/** The request conflicts with the current state (a duplicate, a wrong transition). */
export class Conflict extends ServiceError {
  override name = "Conflict";
}

/** The thing existed and is gone for good (an expired share link). */
export class Gone extends ServiceError {
  override name = "Gone";
}

export class PayloadTooLarge extends ServiceError {
  override name = "PayloadTooLarge";
}

/** Too many attempts: the caller may try again after `retryAfterSeconds` (HTTP's Retry-After). */
export class TooManyRequests extends ServiceError {
  override name = "TooManyRequests";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** A dependency (NATS, the database, a connector) cannot be reached: retrying later may work. */
export class Unavailable extends ServiceError {
  override name = "Unavailable";
}

/** Configuration that makes the service unable to start. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const statuses: [new (...args: never[]) => ServiceError, number][] = [
  [InvalidRequest, 400],
  [Unauthorized, 401],
  [Forbidden, 403],
  [NotFound, 404],
  [Conflict, 409],
  [Gone, 410],
  [PayloadTooLarge, 413],
  [TooManyRequests, 429],
  [Unavailable, 503],
];

/** The one mapping from errors to status codes, used by HTTP responses and NATS error replies alike. */
export function statusOf(error: unknown): number {
  for (const [type, status] of statuses) if (error instanceof type) return status;
  return 500;
}

/** What the caller is told: the message of a known error, nothing of an unexpected one. */
export function publicBody(error: unknown): { error: string; message: string; details?: readonly string[] } {
  if (error instanceof ServiceError) {
    return { error: error.name, message: error.message, ...(error.details.length > 0 ? { details: error.details } : {}) };
  }
  return { error: "InternalError", message: "an unexpected error occurred; it has been logged" };
}
