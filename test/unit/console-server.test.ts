import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConsoleNotBuiltError,
  KEY_HEADER,
  loadConsoleFiles,
  startConsole,
  type ForwardRequest,
  type RunningConsole,
} from '../../cli/console-server';

// The console's local server: what it serves, what it forwards, and whom it refuses.
const files = new Map([
  ['index.html', { type: 'text/html; charset=utf-8', body: Buffer.from('<!doctype html><title>c</title>') }],
  ['app.js', { type: 'text/javascript; charset=utf-8', body: Buffer.from('console.log(1)') }],
]);
const forwarded: ForwardRequest[] = [];
let failForward = false;
let running: RunningConsole;
let origin: string;

beforeAll(async () => {
  running = await startConsole({
    files,
    forward: (request) => {
      forwarded.push(request);
      if (failForward) return Promise.reject(new Error('cannot reach https://api.example: ECONNREFUSED'));
      return Promise.resolve({
        status: request.method === 'POST' ? 202 : 200,
        headers: { 'content-type': 'application/json', location: '/bakes/b1', 'set-cookie': 'x=1' },
        body: JSON.stringify({ path: request.path }),
      });
    },
  });
  origin = new URL(running.url).origin;
});

afterAll(() => running.stop());

/** A raw request (fetch cannot send another Host header). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(path, origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const withKey = () => ({ [KEY_HEADER]: running.key });

describe('the console server', () => {
  it('listens on 127.0.0.1 and gives the address with a fresh key in its fragment', () => {
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#key=[\w-]{32}$/);
    expect(running.url.endsWith(running.key)).toBe(true);
  });

  it('serves the page and its files under a strict Content-Security-Policy', async () => {
    const page = await fetch(`${origin}/`);
    const script = await fetch(`${origin}/app.js`);

    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>c</title>');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it.each(['/nope.js', '/../package.json', '/%2e%2e/package.json', '/api.js/x'])(
    'serves no other file: %s',
    async (path) => {
      expect((await raw('GET', path, { host: new URL(origin).host })).status).toBe(404);
    },
  );

  it('refuses API calls without this run’s key (401), and forwards none of them', async () => {
    const before = forwarded.length;
    const none = await fetch(`${origin}/api/pipelines`);
    const wrong = await fetch(`${origin}/api/pipelines`, { headers: { [KEY_HEADER]: 'x'.repeat(32) } });

    expect(none.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(((await none.json()) as { detail: string }).detail).toMatch(/ami-bakery console/);
    expect(forwarded.length).toBe(before);
  });

  it('refuses a Host that is not its own address (DNS rebinding), even with the key', async () => {
    const rebound = await raw('GET', '/api/pipelines', { ...withKey(), host: 'evil.example:80' });
    const page = await raw('GET', '/', { host: 'evil.example' });

    expect(rebound.status).toBe(403);
    expect(page.status).toBe(403);
  });

  it('forwards an API call with its method, path, query, body and the headers the API takes', async () => {
    const answer = await fetch(`${origin}/api/bakes?pipeline=web&limit=5`, {
      method: 'POST',
      headers: {
        ...withKey(),
        'content-type': 'application/json',
        'idempotency-key': 'k1',
        cookie: 'secret=1',
        authorization: 'Bearer leak',
      },
      body: '{"pipeline":"web"}',
    });

    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ path: '/bakes' });
    expect(answer.headers.get('location')).toBe('/bakes/b1');
    expect(answer.headers.get('set-cookie')).toBeNull();
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(forwarded.at(-1)).toEqual({
      method: 'POST',
      path: '/bakes',
      query: { pipeline: 'web', limit: '5' },
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' },
      body: '{"pipeline":"web"}',
    });
  });

  it('answers 405 for methods it does not forward or serve', async () => {
    expect((await fetch(`${origin}/api/bakes`, { method: 'DELETE', headers: withKey() })).status).toBe(405);
    expect((await fetch(`${origin}/`, { method: 'POST' })).status).toBe(405);
  });

  it('answers 413 for a body over 64 KiB, without forwarding it', async () => {
    const before = forwarded.length;
    const answer = await fetch(`${origin}/api/bakes`, {
      method: 'POST',
      headers: withKey(),
      body: 'x'.repeat(65 * 1024),
    });

    expect(answer.status).toBe(413);
    expect(forwarded.length).toBe(before);
  });

  it('answers 502 with the reason when the API cannot be reached', async () => {
    failForward = true;
    try {
      const answer = await fetch(`${origin}/api/pipelines`, { headers: withKey() });

      expect(answer.status).toBe(502);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      expect(((await answer.json()) as { detail: string }).detail).toMatch(/ECONNREFUSED/);
    } finally {
      failForward = false;
    }
  });

  it('says how to build the console when it is not built', () => {
    expect(() => loadConsoleFiles(new URL('file:///nonexistent/dist/'))).toThrow(ConsoleNotBuiltError);
    expect(() => loadConsoleFiles(new URL('file:///nonexistent/dist/'))).toThrow(/npm run console:build/);
  });
});
