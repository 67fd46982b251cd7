import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { serveConsole, type ConsoleFile, type Forward } from '../../cli/console-server';
import { lambdaContext } from './environment';

type ConsoleFiles = ReadonlyMap<string, ConsoleFile>;

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
 * authorizer, so requests are unsigned and the caller is "anonymous". With the console's files,
 * the web console is served under /console/ (its API calls reach the same handler).
 */
export async function startLocalApi(
  handler: ApiHandler,
  port = 0,
  options: { console?: ConsoleFiles } = {},
): Promise<LocalApi> {
  const server = createServer((request, response) => {
    serve(handler, request, response, options.console).catch(() => {
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
async function serve(
  handler: ApiHandler,
  request: IncomingMessage,
  response: ServerResponse,
  consoleFiles: ConsoleFiles | undefined,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (consoleFiles && url.pathname === '/console') {
    response.writeHead(308, { location: '/console/' }).end();
    return;
  }
  if (consoleFiles && url.pathname.startsWith('/console/')) {
    // The console's own API calls come back here, to the same handler, as the page made them.
    const forward: Forward = async (call) => {
      const query = new URLSearchParams(call.query).toString();
      const result = await invoke(handler, {
        method: call.method,
        path: call.path,
        rawQuery: query,
        headers: { ...call.headers, host: request.headers.host ?? 'localhost' },
        body: Buffer.from(call.body ?? ''),
      });
      return {
        status: result.statusCode ?? 200,
        headers: Object.fromEntries(
          Object.entries(result.headers ?? {}).map(([key, value]) => [key.toLowerCase(), String(value)]),
        ),
        body: result.body ?? '',
      };
    };
    await serveConsole(
      { files: consoleFiles, forward },
      request,
      response,
      url.pathname.slice('/console'.length),
    );
    return;
  }
  const body = await readBody(request);
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([key, value]) => [
      key,
      Array.isArray(value) ? value.join(',') : (value ?? ''),
    ]),
  );
  const result = await invoke(handler, {
    method: request.method ?? 'GET',
    path: url.pathname,
    rawQuery: url.search.slice(1),
    headers,
    body,
  });
  response
    .writeHead(result.statusCode ?? 200, result.headers as Record<string, string>)
    .end(result.body ?? '');
}

/** Calls the handler with the event API Gateway's HTTP API (payload 2.0) would send for a request. */
async function invoke(
  handler: ApiHandler,
  request: {
    method: string;
    path: string;
    rawQuery: string;
    headers: Record<string, string>;
    body: Buffer;
  },
): Promise<APIGatewayProxyStructuredResultV2> {
  const { method, path, rawQuery, headers, body } = request;
  const text = utf8(body);
  const query = Object.fromEntries(new URLSearchParams(rawQuery));
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: rawQuery,
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: {
        method,
        path,
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
  return (await handler(
    event,
    lambdaContext('ami-bakery-local-api') as never,
  )) as APIGatewayProxyStructuredResultV2;
}
