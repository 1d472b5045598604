/** A failure answered by the Kubernetes API server, with its HTTP status and Status reason. */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get notFound(): boolean {
    return this.status === 404;
  }

  get conflict(): boolean {
    return this.status === 409;
  }

  /** The watch's resourceVersion is too old: list again. */
  get gone(): boolean {
    return this.status === 410;
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.notFound;
}

export function isConflict(error: unknown): boolean {
  return error instanceof KubeApiError && error.conflict;
}
