import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, regionOf, UnreachableError } from '../../cli/client';

afterEach(() => {
  vi.unstubAllGlobals();
});

function capture(status = 200, body: unknown = { ok: true }) {
  const calls: { url: string; init: RequestInit }[] = [];
  vi.stubGlobal('fetch', (url: URL, init: RequestInit) => {
    calls.push({ url: url.toString(), init });
    return Promise.resolve(new Response(JSON.stringify(body), { status }));
  });
  return calls;
}

describe('the CLI client', () => {
  it.each([
    ['abc123.execute-api.eu-west-1.amazonaws.com', 'eu-west-1'],
    ['abc123.execute-api.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    ['bakery.example.com', undefined],
  ])('tells the region of %s', (host, region) => {
    expect(regionOf(host)).toBe(region);
  });

  it('signs requests to a deployed stage with SigV4 for execute-api', async () => {
    const calls = capture();
    const client = new ApiClient(new URL('https://abc123.execute-api.eu-west-1.amazonaws.com'), undefined);

    await client.call('POST', '/bakes', { body: { pipeline: 'web' } });

    const headers = calls[0]?.init.headers as Record<string, string>;
    // Signed with the caller's credentials from the default chain (the test environment's key).
    expect(headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID ?? '?'}/\\d{8}/eu-west-1/execute-api/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$`,
      ),
    );
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });

  it('calls the local API unsigned', async () => {
    const calls = capture();

    await new ApiClient(new URL('http://127.0.0.1:3000'), undefined).call('GET', '/pipelines');

    expect((calls[0]?.init.headers as Record<string, string>).authorization).toBeUndefined();
  });

  it('turns a problem answer into an ApiError with the problem', async () => {
    capture(409, { title: 'Pipeline busy', status: 409, detail: 'busy', activeBakeId: 'b1' });

    const failing = new ApiClient(new URL('http://localhost:3000'), undefined).call('POST', '/bakes', {
      body: {},
    });

    await expect(failing).rejects.toBeInstanceOf(ApiError);
    await expect(failing).rejects.toMatchObject({
      problem: { activeBakeId: 'b1' },
      message: 'Pipeline busy: busy',
    });
  });

  it('keeps the path of the endpoint (an API Gateway stage) before the route', async () => {
    const calls = capture();

    await new ApiClient(new URL('https://abc123.execute-api.eu-west-1.amazonaws.com/prod/'), undefined).call(
      'GET',
      '/bakes',
      { query: { limit: '5' } },
    );

    expect(calls[0]?.url).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com/prod/bakes?limit=5');
  });

  it('refuses to sign for plain http anywhere but localhost', () => {
    expect(() => new ApiClient(new URL('http://bakery.example.com'), 'eu-west-1')).toThrow(/use https:\/\//);
  });

  it('says which URL it could not reach, and why', async () => {
    // A port nothing listens on: taken, then given back.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));

    const failing = new ApiClient(new URL(`http://127.0.0.1:${port}`), undefined).call('GET', '/pipelines');

    await expect(failing).rejects.toBeInstanceOf(UnreachableError);
    await expect(failing).rejects.toThrow(
      `cannot reach http://127.0.0.1:${port}/pipelines: connect ECONNREFUSED`,
    );
  });

  it('sends the headers it is given (an Idempotency-Key)', async () => {
    const calls = capture();

    await new ApiClient(new URL('http://localhost:3000'), undefined).call('POST', '/bakes', {
      body: { pipeline: 'web' },
      headers: { 'idempotency-key': 'k1' },
    });

    expect(calls[0]?.init.headers).toMatchObject({ 'idempotency-key': 'k1' });
  });
});
