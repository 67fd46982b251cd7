import * as z from 'zod';
import { ConfigError } from '../errors';

/** The deployed stack's settings, as serverless.yml passes them to the functions. */
const environmentSchema = z.object({
  BAKES_TABLE: z.string().min(3),
  NOTIFICATIONS_TOPIC_ARN: z.string().startsWith('arn:'),
  TIMER_QUEUE_URL: z.url(),
  /** Longer than the reconcile function's timeout: a pass that dies gives way within this. */
  LEASE_SECONDS: z.coerce.number().int().min(1).max(900).default(120),
  /** The stack's builder instance profile (named per stage and region), for pipelines that name none. */
  BUILDER_INSTANCE_PROFILE: z.string().min(1).optional(),
  /** The nightly function's schedule expression, for the API to say when it runs next. */
  NIGHTLY_SCHEDULE: z.string().min(1).default('cron(0 3 * * ? *)'),
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
