import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { lambdaContext } from './environment';

type ApiHandler = (event: APIGatewayProxyEventV2WithIAMAuthorizer, context: never) => Promise<unknown>;

export interface LocalApi {
  readonly url: string;
  stop(): Promise<void>;
}

/** At most this much body is read; the handler answers 413 above its own (smaller) limit. */
const READ_LIMIT = 1024 * 1024;

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > READ_LIMIT) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The body as text, if it is valid UTF-8. */
function utf8(body: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

/**
 * Serves the api function on localhost the way API Gateway's HTTP API calls it (payload 2.0),
 * through the very handler and middlewares that run in Lambda. Locally there is no IAM
 * authorizer, so requests are unsigned and the caller is "anonymous".
 */
export async function startLocalApi(handler: ApiHandler, port = 0): Promise<LocalApi> {
  const server = createServer((request, response) => {
    serve(handler, request, response).catch(() => {
      // One error path: whatever went wrong (a client that hung up mid-body, a socket reset),
      // this request is over and the server carries on.
      if (!response.headersSent && !response.destroyed) {
        response.writeHead(500, { 'content-type': 'text/plain' }).end('local API: request failed');
      } else {
        response.destroy();
      }
    });
  });
  // API Gateway gives an integration at most 30 s; a client that trickles its request is cut off too.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** One request, as API Gateway would pass it to the handler; rejects when the client goes away. */
async function serve(handler: ApiHandler, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const body = await readBody(request);
  const text = utf8(body);
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([key, value]) => [
      key,
      Array.isArray(value) ? value.join(',') : (value ?? ''),
    ]),
  );
  const query = Object.fromEntries(url.searchParams);
  const method = request.method ?? 'GET';
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: {
        method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: crypto.randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    // As API Gateway does: text as is, bytes that are not UTF-8 as base64 (never "repaired",
    // which would triple their size on the way to the 413 check).
    ...(body.length > 0 ? { body: text ?? body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && text === undefined,
  } as unknown as APIGatewayProxyEventV2WithIAMAuthorizer;
  const result = (await handler(
    event,
    lambdaContext('ami-bakery-local-api') as never,
  )) as APIGatewayProxyStructuredResultV2;
  response
    .writeHead(result.statusCode ?? 200, result.headers as Record<string, string>)
    .end(result.body ?? '');
}
