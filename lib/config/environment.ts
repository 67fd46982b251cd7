import * as z from '../zod';
import { ConfigError } from '../errors';

/** The deployed stack's settings, as serverless.yml passes them to the functions. */
const environmentSchema = z.object({
  BAKES_TABLE: z.string().check(z.minLength(3)),
  NOTIFICATIONS_TOPIC_ARN: z.string().check(z.startsWith('arn:')),
  TIMER_QUEUE_URL: z.url(),
  /** Longer than the reconcile function's timeout: a pass that dies gives way within this. */
  LEASE_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(900)), 120),
  /** The stack's builder instance profile (named per stage and region), for pipelines that name none. */
  BUILDER_INSTANCE_PROFILE: z.optional(z.string().check(z.minLength(1))),
  /** The nightly function's schedule expression, for the API to say when it runs next. */
  NIGHTLY_SCHEDULE: z._default(z.string().check(z.minLength(1)), 'cron(0 3 * * ? *)'),
});

export type Environment = Readonly<z.output<typeof environmentSchema>>;

/** @throws ConfigError naming each missing or invalid variable. */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid environment: ${problems.join('; ')}`, { cause: parsed.error });
  }
  return Object.freeze(parsed.data);
}
