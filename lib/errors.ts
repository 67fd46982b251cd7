/**
 * The service's error vocabulary: named classes, each meaning one thing, with the error that
 * caused it as `cause`. `lib/api/problem.ts` is the one place they become HTTP answers; AWS's
 * own errors are recognised by name with {@link isAwsError} and classed by {@link isTransient}.
 */
export class BakeryError extends Error {}

/** Configuration that does not validate: names the pipeline and the field. */
export class ConfigError extends BakeryError {
  override readonly name = 'ConfigError';
}

export class NotFoundError extends BakeryError {
  override readonly name = 'NotFoundError';
}

/** The pipeline already has an active bake (one at a time per pipeline). */
export class PipelineBusyError extends BakeryError {
  override readonly name = 'PipelineBusyError';
  constructor(
    readonly pipeline: string,
    readonly activeBakeId: string,
  ) {
    // A bake or a rollout: either holds the pipeline until it ends.
    super(`Pipeline ${pipeline} is busy with ${activeBakeId} (one bake or rollout at a time)`);
  }
}

/** A well-formed request the service cannot carry out as asked (an image of another pipeline, say). */
export class InvalidRequestError extends BakeryError {
  override readonly name = 'InvalidRequestError';
  constructor(
    message: string,
    /** The request field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Another writer advanced the record first; the caller re-reads and decides again. */
export class ConflictError extends BakeryError {
  override readonly name = 'ConflictError';
}

/**
 * Something a bake needs is missing or refused outside AWS's own errors (a subnet no tag names,
 * a pipeline no longer configured): final, and recorded under its `code` as AWS's errors are.
 */
export class RefusedError extends BakeryError {
  override readonly name: string;
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = code;
  }
}

/** An error AWS (or the SDK) raised under one of these names, e.g. `ConditionalCheckFailedException`. */
export function isAwsError(error: unknown, ...names: readonly string[]): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { name?: unknown }).name === 'string' &&
    names.includes((error as { name: string }).name)
  );
}

interface AwsErrorShape {
  name?: string;
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
  code?: string;
}

const TRANSIENT_NAMES = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'ProvisionedThroughputExceededException',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'Unavailable',
  'TimeoutError',
  'RequestTimeout',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

/**
 * True for failures worth another try later: throttling, 5xx, timeouts and dropped connections.
 * Validation errors (4xx) are final: retrying them only repeats the mistake.
 */
export function isTransient(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as AwsErrorShape;
  if (shape.$retryable) return true;
  if (shape.name && TRANSIENT_NAMES.has(shape.name)) return true;
  const status = shape.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (shape.code && NETWORK_CODES.has(shape.code)) return true;
  return error instanceof Error && error.name === 'AbortError';
}

/** A short, safe description of an error for records and notifications. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof Error) return { code: error.name, message: error.message.slice(0, 1000) };
  return { code: 'Unknown', message: String(error).slice(0, 1000) };
}
