/**
 * The service's error taxonomy. Entry points map these to HTTP statuses (4xx shown to the
 * caller) or to retry decisions; anything else is an unexpected 500 whose details stay hidden.
 */
export class BakeryError extends Error {
  /** HTTP status an entry point answers with; 5xx details are never shown to callers. */
  readonly statusCode: number = 500;
}

/** Configuration that does not validate: names the pipeline and the field. */
export class ConfigError extends BakeryError {
  override readonly name = 'ConfigError';
  override readonly statusCode = 500;
}

export class NotFoundError extends BakeryError {
  override readonly name = 'NotFoundError';
  override readonly statusCode = 404;
}

/** The pipeline already has an active bake (one at a time per pipeline). */
export class PipelineBusyError extends BakeryError {
  override readonly name = 'PipelineBusyError';
  override readonly statusCode = 409;
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
  override readonly statusCode = 422;
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
  override readonly statusCode = 409;
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
