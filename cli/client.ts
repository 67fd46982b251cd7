import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** A problem body, as the API answers every refusal. */
export interface Problem {
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly field?: string;
  readonly activeBakeId?: string;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.title}: ${problem.detail}${problem.field ? ` (${problem.field})` : ''}`);
  }
}

/** The API could not be reached at all: no answer, so no problem body. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach ${url}: ${reason}`);
  }
}

/** What a failed fetch says: its cause (ECONNREFUSED 127.0.0.1:3000, ENOTFOUND host, …), not just "fetch failed". */
function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.message ?? cause?.code ?? (error instanceof Error ? error.message : String(error));
}

const LOCAL = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** The region of an execute-api host (abc.execute-api.eu-west-1.amazonaws.com), if it is one. */
export function regionOf(host: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1];
}

/**
 * Calls the API: signed with SigV4 (credentials from the usual AWS chain) against a deployed
 * stage, plain HTTP against the local one.
 */
export class ApiClient {
  private readonly signer: SignatureV4 | undefined;

  constructor(
    private readonly endpoint: URL,
    region: string | undefined,
  ) {
    if (LOCAL.has(endpoint.hostname)) return;
    // A signature sent in the clear could be replayed for minutes: only a local API is plain HTTP.
    if (endpoint.protocol !== 'https:')
      throw new Error(`${endpoint.origin}: only a local API (localhost) is called over http; use https://`);
    const signingRegion = region ?? regionOf(endpoint.hostname) ?? process.env.AWS_REGION;
    if (!signingRegion) throw new Error(`Cannot tell the region of ${endpoint.host}: pass --region`);
    this.signer = new SignatureV4({
      service: 'execute-api',
      region: signingRegion,
      credentials: defaultProvider(),
      sha256: Hash.bind(null, 'sha256'),
    });
  }

  /**
   * One request as sent and answered, whatever the status: the console forwards these.
   * @throws UnreachableError when nothing answers.
   */
  async send(
    method: string,
    path: string,
    options: { body?: string; query?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; headers: Headers; text: string }> {
    // The endpoint's own path (an API Gateway stage, /prod) comes first.
    const url = new URL(this.endpoint);
    url.pathname = `${this.endpoint.pathname.replace(/\/+$/, '')}${path}`;
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    const { body } = options;
    let headers: Record<string, string> = {
      host: url.host,
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    };
    if (this.signer) {
      const signed = await this.signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        ...(body ? { body } : {}),
      });
      headers = signed.headers;
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, ...(body ? { body } : {}) });
    } catch (error) {
      throw new UnreachableError(url.toString(), causeOf(error));
    }
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  async call(
    method: string,
    path: string,
    options: { body?: unknown; query?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer> {
    const { status, text } = await this.send(method, path, {
      ...options,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch {
      // not JSON: keep the text
    }
    if (status >= 400) {
      const problem =
        typeof parsed === 'object' && parsed !== null && 'title' in parsed
          ? (parsed as Problem)
          : { title: `HTTP ${status}`, status, detail: text.slice(0, 500) };
      throw new ApiError(problem);
    }
    return { status, body: parsed };
  }
}
