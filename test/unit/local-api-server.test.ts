import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalApi, type LocalApi } from '../../scripts/local/api-server';

// The local API server (npm run dev) survives what clients do to servers. The handler here only
// echoes what it was given: the server is under test, not the api function (cli.test.ts runs that).
let api: LocalApi;
const seen: { body?: string; isBase64Encoded?: boolean }[] = [];

beforeAll(async () => {
  api = await startLocalApi((event) => {
    seen.push({ body: event.body, ...(event.isBase64Encoded ? { isBase64Encoded: true } : {}) });
    return Promise.resolve({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"ok":true}',
    });
  });
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
