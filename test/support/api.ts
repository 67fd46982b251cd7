import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { createApiHandler } from '../../lib/api/handler';
import type { Bakery } from '../../lib/bake/service';
import { lambdaContext } from '../../scripts/local/environment';

const sample = JSON.parse(
  readFileSync(new URL('../../events/api-post-bakes.json', import.meta.url), 'utf8'),
) as APIGatewayProxyEventV2WithIAMAuthorizer;

export interface CallOptions {
  readonly body?: unknown;
  /** Sent as is (not JSON-encoded) when a string. */
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  /** Drop the sample's Content-Type and Idempotency-Key headers. */
  readonly bareHeaders?: boolean;
  /** The IAM principal calling (default: the sample's). */
  readonly caller?: string;
}

export interface CallResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** The API function's full middy stack over a test bakery, called with events shaped like `events/`. */
export function apiFor(bakery: Bakery) {
  const logger = new Logger({ serviceName: 'ami-bakery-api-test', logLevel: 'SILENT' });
  const handler = createApiHandler(logger, () => bakery);
  return async (method: string, path: string, options: CallOptions = {}): Promise<CallResult> => {
    const base = options.bareHeaders ? { Host: sample.headers.Host ?? '' } : { ...sample.headers };
    delete (base as Record<string, string>)['Idempotency-Key'];
    const event: APIGatewayProxyEventV2WithIAMAuthorizer = {
      ...sample,
      routeKey: '$default',
      rawPath: path,
      rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
      ...(options.query ? { queryStringParameters: options.query } : {}),
      headers: { ...base, ...options.headers },
      requestContext: {
        ...sample.requestContext,
        http: { ...sample.requestContext.http, method, path },
        ...(options.caller
          ? {
              authorizer: {
                iam: { ...sample.requestContext.authorizer.iam, userArn: options.caller },
              },
            }
          : {}),
      },
      ...(options.rawBody !== undefined
        ? { body: options.rawBody }
        : options.body !== undefined
          ? { body: JSON.stringify(options.body) }
          : { body: undefined }),
    };
    const result = await handler(event, lambdaContext('ami-bakery-api'));
    const headers = Object.fromEntries(
      Object.entries(result.headers ?? {}).map(([key, value]) => [key.toLowerCase(), String(value)]),
    );
    return {
      status: result.statusCode ?? 0,
      headers,
      body: result.body ? (JSON.parse(result.body) as unknown) : null,
    };
  };
}

/** The caller the sample event carries (its IAM authorizer). */
export const SAMPLE_CALLER = sample.requestContext.authorizer.iam.userArn;
