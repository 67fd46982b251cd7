import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import * as z from '../zod';

/**
 * How the service's AWS clients are configured, read from the environment once.
 *
 * Endpoints are deliberately absent: the SDK reads `AWS_ENDPOINT_URL` and
 * `AWS_ENDPOINT_URL_<SERVICE>` itself, so nothing in `lib/` knows whether it talks
 * to AWS or to a local emulator.
 */
export const awsSettingsSchema = z.pipe(
  z.object({
    AWS_REGION: z
      .string()
      .check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')),
    // Standard retries: exponential backoff with jitter (longer for throttling) and a retry
    // quota. Adaptive mode adds a client-side rate limiter that, once throttled, delays every
    // later call of the container's client: under the chaos run's 10% throttling a reconcile
    // pass took several times longer (docs/benchmarks.md). AWS recommends standard "for all
    // workloads" and adaptive only for single-resource, latency-tolerant ones. Passes are
    // already spread out by leases, timers and the sweep.
    AWS_RETRY_MODE: z._default(z.enum(['standard', 'adaptive', 'legacy']), 'standard'),
    AWS_MAX_ATTEMPTS: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(20)), 5),
    // Without these the SDK waits up to 15 minutes on a connection that stopped answering (its
    // default socket timeout), longer than any of the functions may run: a stuck call should fail
    // as a TimeoutError and be retried like any transient failure.
    AMI_BAKERY_CONNECT_TIMEOUT_MS: z._default(
      z.coerce.number().check(z.int(), z.minimum(100), z.maximum(60_000)),
      5_000,
    ),
    AMI_BAKERY_REQUEST_TIMEOUT_MS: z._default(
      z.coerce.number().check(z.int(), z.minimum(100), z.maximum(900_000)),
      30_000,
    ),
  }),
  z.transform((env) => ({
    region: env.AWS_REGION,
    retryMode: env.AWS_RETRY_MODE,
    maxAttempts: env.AWS_MAX_ATTEMPTS,
    connectTimeoutMs: env.AMI_BAKERY_CONNECT_TIMEOUT_MS,
    requestTimeoutMs: env.AMI_BAKERY_REQUEST_TIMEOUT_MS,
  })),
);

export type AwsSettings = Readonly<z.output<typeof awsSettingsSchema>>;

/** Raised when the environment cannot configure AWS clients; names each bad variable. */
export class AwsSettingsError extends Error {
  override readonly name = 'AwsSettingsError';
}

/**
 * Parses the AWS settings from an environment (by default `process.env`).
 * @throws AwsSettingsError naming every missing or invalid variable.
 */
export function readAwsSettings(env: NodeJS.ProcessEnv = process.env): AwsSettings {
  const parsed = awsSettingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new AwsSettingsError(`Invalid AWS environment: ${problems.join('; ')}`, { cause: parsed.error });
  }
  return Object.freeze(parsed.data);
}

/** The configuration every service client is built with, in `region` (the home one by default). */
export function clientConfig(
  settings: AwsSettings,
  region: string = settings.region,
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider,
) {
  return {
    region,
    retryMode: settings.retryMode,
    maxAttempts: settings.maxAttempts,
    requestHandler: {
      connectionTimeout: settings.connectTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
    ...(credentials ? { credentials } : {}),
  };
}
