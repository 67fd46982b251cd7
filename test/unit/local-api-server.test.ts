import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalApi, type LocalApi } from '../../scripts/local/api-server';

// The local API server (npm run dev) survives what clients do to servers. The handler here only
// echoes what it was given: the server is under test, not the api function (cli.test.ts runs that).
let api: LocalApi;
const seen: { body?: string; isBase64Encoded?: boolean }[] = [];
const paths: string[] = [];
const consoleFiles = new Map([
  ['index.html', { type: 'text/html; charset=utf-8', body: Buffer.from('<title>console</title>') }],
]);

beforeAll(async () => {
  api = await startLocalApi(
    (event) => {
      seen.push({ body: event.body, ...(event.isBase64Encoded ? { isBase64Encoded: true } : {}) });
      paths.push(`${event.requestContext.http.method} ${event.rawPath}?${event.rawQueryString}`);
      return Promise.resolve({
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"ok":true}',
      });
    },
    0,
    { console: consoleFiles },
  );
});

afterAll(() => api.stop());

/** Sends raw bytes, then hangs up without waiting for an answer. */
async function hangUpAfter(raw: string): Promise<void> {
  const { port } = new URL(api.url);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(raw, () => {
        socket.destroy();
        resolve();
      });
    });
    socket.on('error', reject);
  });
}

describe('the local API server', () => {
  it('serves the web console under /console/, its API calls reaching the same handler', async () => {
    const bare = await fetch(`${api.url}/console`, { redirect: 'manual' });
    const page = await fetch(`${api.url}/console/`);
    const call = await fetch(`${api.url}/console/api/bakes?pipeline=web`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"pipeline":"web"}',
    });

    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/console/');
    expect(await page.text()).toBe('<title>console</title>');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(call.status).toBe(200);
    expect(await call.json()).toEqual({ ok: true });
    expect(seen.at(-1)).toEqual({ body: '{"pipeline":"web"}' });
    expect(paths.at(-1)).toBe('POST /bakes?pipeline=web');
  });

  it('keeps serving after a client hangs up in the middle of a body', async () => {
    const before = seen.length;

    await hangUpAfter(
      'POST /bakes HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await fetch(`${api.url}/pipelines`);

    expect(after.status).toBe(200);
    expect(seen.length).toBe(before + 1); // only the second request reached the handler
  });

  it('keeps serving after a client hangs up in the middle of its headers', async () => {
    await hangUpAfter('GET /bakes HTTP/1.1\r\nHost: local');

    expect((await fetch(`${api.url}/bakes`)).status).toBe(200);
  });

  it('passes bytes that are not UTF-8 as base64, as API Gateway does, not repaired and tripled', async () => {
    const bytes = Buffer.alloc(6000, 0xff);

    await fetch(`${api.url}/bakes`, { method: 'POST', body: bytes });

    expect(seen.at(-1)).toEqual({ body: bytes.toString('base64'), isBase64Encoded: true });
  });

  it('passes a whole body through', async () => {
    await fetch(`${api.url}/bakes`, { method: 'POST', body: '{"pipeline":"web"}' });

    expect(seen.at(-1)).toEqual({ body: '{"pipeline":"web"}' });
  });
});
