import * as z from 'zod';

/**
 * How the service's AWS clients are configured, read from the environment once.
 *
 * Endpoints are deliberately absent: the SDK reads `AWS_ENDPOINT_URL` and
 * `AWS_ENDPOINT_URL_<SERVICE>` itself, so nothing in `lib/` knows whether it talks
 * to AWS or to a local emulator.
 */
export const awsSettingsSchema = z
  .object({
    AWS_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1'),
    // Adaptive retries add client-side rate limiting on top of the standard
    // exponential backoff: the right default for a controller that fans out
    // Describe* calls and must back off when EC2 answers RequestLimitExceeded.
    AWS_RETRY_MODE: z.enum(['standard', 'adaptive', 'legacy']).default('adaptive'),
    AWS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  })
  .transform((env) => ({
    region: env.AWS_REGION,
    retryMode: env.AWS_RETRY_MODE,
    maxAttempts: env.AWS_MAX_ATTEMPTS,
  }));

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
