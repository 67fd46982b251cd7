import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { KEY_HEADER } from '../console/src/protocol';

/**
 * The web console's server side: the built page (console/dist) and its API calls, forwarded.
 * `ami-bakery console` serves it on 127.0.0.1 and forwards to the deployed API signed with the
 * user's own credentials, as `kubectl proxy` does; `npm run dev` serves it under /console/ of the
 * local API. No new way into the cloud stack: whoever can use the console could already sign.
 *
 * A local port that signs requests must not be usable by other web pages the user has open:
 * - API calls need the session key (random per run, given in the opened URL's fragment, which is
 *   never sent anywhere, and sent back by the page in a header no other origin may set without a
 *   CORS preflight this server never grants);
 * - the Host header must be this server's own address, so a DNS-rebound name reaches nothing;
 * - a strict Content-Security-Policy: the page runs only its own script and talks only to itself.
 */

export { KEY_HEADER };

/** An API request as the page made it, path relative to the API's root (`/bakes/…`). */
export interface ForwardRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export interface ForwardAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export type Forward = (request: ForwardRequest) => Promise<ForwardAnswer>;

export interface ConsoleFile {
  readonly type: string;
  readonly body: Buffer;
}

/** The built console, where `npm run console:build` puts it. */
export const CONSOLE_DIST = new URL('../console/dist/', import.meta.url);

export class ConsoleNotBuiltError extends Error {
  constructor(dir: string) {
    super(`the console is not built (no ${dir}index.html): run npm run console:build`);
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** Every file of the built console, read once: only these names are ever served. */
export function loadConsoleFiles(dir: URL = CONSOLE_DIST): ReadonlyMap<string, ConsoleFile> {
  const path = dir.pathname;
  if (!existsSync(join(path, 'index.html'))) throw new ConsoleNotBuiltError(path);
  const files = new Map<string, ConsoleFile>();
  for (const name of readdirSync(path)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { type, body: readFileSync(join(path, name)) });
  }
  return files;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

/** What the API answers with that the page may read. */
const ANSWER_HEADERS = ['content-type', 'location', 'idempotent-replayed', 'x-request-id', 'allow'];
/** What the page may send on to the API. */
const REQUEST_HEADERS = ['content-type', 'idempotency-key'];
const METHODS = new Set(['GET', 'HEAD', 'POST']);
/** The API refuses bodies above 64 KiB itself; the console never sends one near that. */
const BODY_LIMIT = 64 * 1024;

function problem(response: ServerResponse, status: number, title: string, detail: string): void {
  response
    .writeHead(status, {
      ...SECURITY_HEADERS,
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
    })
    .end(JSON.stringify({ type: 'urn:ami-bakery:problem:console', title, status, detail }));
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sameKey(given: string | undefined, key: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface ConsoleOptions {
  readonly files: ReadonlyMap<string, ConsoleFile>;
  readonly forward: Forward;
  /** Required of every API call when set (`ami-bakery console`); the local dev API is open anyway. */
  readonly key?: string;
}

/**
 * Answers one request under the console's root: `path` is the part after it (`/`, `/app.js`,
 * `/api/bakes`). Resolves when the answer is sent.
 */
export async function serveConsole(
  options: ConsoleOptions,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<void> {
  // Only this server's own address: a page that rebinds its DNS name to 127.0.0.1 is refused.
  const port = request.socket.localPort;
  const host = request.headers.host ?? '';
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
    problem(response, 403, 'Forbidden', `Host ${host.slice(0, 100)} is not this console's address`);
    return;
  }
  const method = request.method ?? 'GET';
  if (path === '/api' || path.startsWith('/api/')) {
    await forwardApi(options, request, response, method, path.slice('/api'.length) || '/');
    return;
  }
  if (method !== 'GET' && method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    problem(response, 405, 'Method not allowed', `${method} is not allowed here; use GET`);
    return;
  }
  const name = path === '/' ? 'index.html' : path.slice(1);
  const file = options.files.get(name);
  if (!file || name.includes('/')) {
    problem(response, 404, 'Not found', `No console file ${path.slice(0, 100)}`);
    return;
  }
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': file.type,
    'content-length': String(file.body.length),
    'cache-control': 'no-cache',
  });
  response.end(method === 'HEAD' ? undefined : file.body);
}

async function forwardApi(
  options: ConsoleOptions,
  request: IncomingMessage,
  response: ServerResponse,
  method: string,
  apiPath: string,
): Promise<void> {
  const given = request.headers[KEY_HEADER];
  if (options.key !== undefined && !sameKey(typeof given === 'string' ? given : undefined, options.key)) {
    problem(
      response,
      401,
      'Unauthorized',
      'Open the console from the address `ami-bakery console` printed: it carries this session’s key',
    );
    return;
  }
  if (!METHODS.has(method)) {
    response.setHeader('allow', 'GET, HEAD, POST');
    problem(response, 405, 'Method not allowed', `${method} is not forwarded; use GET or POST`);
    return;
  }
  const body = await readBody(request);
  if (body === undefined) {
    problem(response, 413, 'Body too large', `At most ${BODY_LIMIT} bytes`);
    return;
  }
  const url = new URL(request.url ?? '/', 'http://console');
  const headers: Record<string, string> = {};
  for (const name of REQUEST_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  let answer: ForwardAnswer;
  try {
    answer = await options.forward({
      method,
      path: apiPath,
      query: Object.fromEntries(url.searchParams),
      headers,
      ...(body.length > 0 ? { body } : {}),
    });
  } catch (error) {
    problem(response, 502, 'API unreachable', error instanceof Error ? error.message : String(error));
    return;
  }
  const passed: Record<string, string> = {};
  for (const name of ANSWER_HEADERS) {
    const value = answer.headers[name];
    if (value !== undefined) passed[name] = value;
  }
  response.writeHead(answer.status, { ...SECURITY_HEADERS, ...passed, 'cache-control': 'no-store' });
  response.end(method === 'HEAD' ? undefined : answer.body);
}

export interface RunningConsole {
  /** The address to open, with the session key in its fragment. */
  readonly url: string;
  readonly key: string;
  stop(): Promise<void>;
}

/** Serves the console on 127.0.0.1 (port 0: any free one) with a new session key. */
export async function startConsole(
  options: Omit<ConsoleOptions, 'key'> & { readonly port?: number },
): Promise<RunningConsole> {
  const key = randomBytes(24).toString('base64url');
  const settings: ConsoleOptions = { ...options, key };
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://console').pathname;
    serveConsole(settings, request, response, path).catch(() => {
      if (!response.headersSent) problem(response, 500, 'Console error', 'The request could not be served');
      else response.destroy();
    });
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/#key=${key}`,
    key,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
