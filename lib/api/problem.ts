import type * as z from '../zod';
import { ConflictError, InvalidRequestError, isTransient, NotFoundError, PipelineBusyError } from '../errors';
import type { problem } from './schemas';

export type Problem = z.infer<typeof problem>;

/** An answer to a request the caller got wrong, thrown by routes and middlewares alike. */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly field?: string,
    /** For a 405: the methods the path takes (the Allow header). */
    readonly allow?: string,
  ) {
    super(detail);
  }
}

export const typeOf = (slug: string) => `urn:ami-bakery:problem:${slug}`;

interface HttpErrorShape {
  statusCode?: number;
  expose?: boolean;
  message?: string;
  cause?: { package?: string };
}

/**
 * The one place an error becomes an HTTP answer: the caller's mistakes as precise 4xx problems,
 * AWS throttling and outages as 503 with Retry-After, anything else as a bare 500 (logged, never
 * shown). An error class carries no status of its own: this mapping is the only one.
 */
export function toProblem(error: unknown): {
  problem: Problem;
  headers: Record<string, string>;
  logged: boolean;
} {
  const make = (
    status: number,
    slug: string,
    title: string,
    detail: string,
    extra: Partial<Problem> = {},
  ) => ({
    problem: { type: typeOf(slug), title, status, detail, ...extra },
    headers: {} as Record<string, string>,
    logged: false,
  });
  if (error instanceof HttpProblem) {
    const answer = make(
      error.status,
      error.slug,
      error.title,
      error.detail,
      error.field ? { field: error.field } : {},
    );
    return error.allow ? { ...answer, headers: { Allow: error.allow } } : answer;
  }
  if (error instanceof PipelineBusyError) {
    return make(409, 'pipeline-busy', 'Pipeline busy', error.message, { activeBakeId: error.activeBakeId });
  }
  if (error instanceof NotFoundError) return make(404, 'not-found', 'Not found', error.message);
  if (error instanceof ConflictError) return make(409, 'conflict', 'Conflict', error.message);
  if (error instanceof InvalidRequestError) {
    return make(
      422,
      'invalid-request',
      'Cannot do that',
      error.message,
      error.field ? { field: error.field } : {},
    );
  }
  // @middy/http-json-body-parser: a wrong content type, or a body that is not JSON.
  const http = error as HttpErrorShape | null | undefined;
  if (http?.cause?.package === '@middy/http-json-body-parser') {
    if (http.message === 'Unsupported Media Type') {
      return make(
        415,
        'unsupported-media-type',
        'Unsupported media type',
        'Send the body as application/json',
      );
    }
    return make(400, 'malformed-json', 'Malformed JSON', 'The body is not valid JSON');
  }
  if (isTransient(error)) {
    const answer = make(503, 'unavailable', 'Try again', 'AWS is throttling or unavailable; retry shortly');
    return { ...answer, headers: { 'Retry-After': '5' }, logged: true };
  }
  const internal = make(
    500,
    'internal',
    'Internal error',
    'Something went wrong on our side; it has been logged',
  );
  // Not one of the mapped mistakes: ours to find in the logs.
  return { ...internal, logged: true };
}
