import type { z } from 'zod';
import type {
  bakeListResponse,
  bakeResponse,
  pipelinesResponse,
  retentionResponse,
  skippedResponse,
} from '../../lib/api/schemas';
import { KEY_HEADER } from './protocol';

/** The API's shapes, as lib/api/schemas.ts defines them (types only: nothing of zod ships). */
export type Bake = z.infer<typeof bakeResponse>['bake'];
export type BakeList = z.infer<typeof bakeListResponse>;
export type Pipeline = z.infer<typeof pipelinesResponse>['pipelines'][number];
export type RetentionPlan = z.infer<typeof retentionResponse>['plan'];
export type Skipped = z.infer<typeof skippedResponse>;
export type Target = NonNullable<Bake['rollout']>[number];

const KEY_STORE = 'ami-bakery-console-key';

/**
 * The session key `ami-bakery console` put in the address's fragment (never sent to a server):
 * kept for this tab, and taken out of the address bar.
 */
export function adoptKey(): void {
  const match = /^#key=([\w-]+)$/.exec(location.hash);
  if (!match?.[1]) return;
  sessionStorage.setItem(KEY_STORE, match[1]);
  history.replaceState(null, '', `${location.pathname}#/`);
}

/** A refusal, as the API (or the console server) explains it: RFC 9457 problem details. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly field?: string,
  ) {
    super(`${title}: ${detail}`);
  }

  /** Whatever a call threw, as a problem the page can show. */
  static from(error: unknown): ApiProblem {
    if (error instanceof ApiProblem) return error;
    return new ApiProblem(0, 'Error', error instanceof Error ? error.message : String(error));
  }
}

/** The API as the console reaches it: `api/` next to the page, through the console server. */
export async function api<T>(
  method: 'GET' | 'POST',
  path: string,
  options: { body?: unknown; query?: Record<string, string | undefined> } = {},
): Promise<T> {
  const url = new URL(`api${path}`, new URL('.', location.href));
  for (const [name, value] of Object.entries(options.query ?? {}))
    if (value !== undefined && value !== '') url.searchParams.set(name, value);
  const key = sessionStorage.getItem(KEY_STORE);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        accept: 'application/json',
        ...(key ? { [KEY_HEADER]: key } : {}),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch {
    throw new ApiProblem(0, 'Console stopped', 'The console server does not answer: is it still running?');
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const problem = (body ?? {}) as { title?: string; detail?: string; field?: string };
    throw new ApiProblem(
      response.status,
      problem.title ?? `HTTP ${response.status}`,
      problem.detail ?? text.slice(0, 300),
      problem.field,
    );
  }
  return body as T;
}
