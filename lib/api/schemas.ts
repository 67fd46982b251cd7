import * as z from '../zod';
import { PHASES } from '../bake/model';
import { PIPELINE_NAME, PIPELINE_NAME_RULE } from '../pipeline/schema';

/**
 * The HTTP API's contract: request bodies, query strings and responses. Routes validate with
 * these, the route tests check every response against them, and docs/openapi.json is generated
 * from them (a test keeps it in step).
 */

/** `schema`, with a description for the OpenAPI document. */
const described = <T extends z.ZodMiniType>(schema: T, description: string): T =>
  schema.check(z.describe(description));

// A name no pipeline can have is a bad request (422), not an unknown pipeline (404).
const pipelineName = described(
  z.string().check(z.regex(PIPELINE_NAME, PIPELINE_NAME_RULE)),
  'A configured pipeline',
);
const imageId = z
  .string()
  .check(z.regex(/^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'an AMI id: ami- and 8 or 17 hex digits'));
const text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));

export const startBakeBody = z.strictObject({
  pipeline: pipelineName,
  reason: described(z.optional(text(500)), 'Why, for the record and the notifications'),
  force: described(
    z._default(z.boolean(), false),
    'Bake even if the base image and the recipe are those of the last successful bake',
  ),
});

export const startRolloutBody = z.strictObject({
  pipeline: pipelineName,
  amiId: described(imageId, 'An available image this pipeline baked'),
  reason: z.optional(text(500)),
});

export const cancelBody = z.strictObject({});

export const approvalBody = z.strictObject({
  comment: described(z.optional(text(1000)), 'Kept with the approval in the record'),
});

export const listQuery = z.strictObject({
  pipeline: z.optional(pipelineName),
  status: described(z.optional(z.enum([...PHASES, 'active'])), 'A phase, or `active` for unfinished bakes'),
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 20),
  cursor: described(
    z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
    '`next` of the previous page',
  ),
});

export const idempotencyKeyHeader = z
  .string()
  .check(z.regex(/^[\x21-\x7e]{1,128}$/, '1 to 128 printable ASCII characters, no spaces'));

const failure = z.object({
  phase: z.string(),
  code: z.string(),
  message: z.string(),
  step: z.optional(z.string()),
  output: z.optional(z.string()),
});

const approval = z.object({
  decision: z.enum(['approved', 'rejected']),
  at: z.string(),
  by: z.optional(z.string()),
  comment: z.optional(z.string()),
});

const target = z.object({
  group: z.string(),
  wave: described(z.optional(z.int()), 'Its wave: an index into `waves`'),
  region: described(z.optional(z.string()), "The group's region, when not the bake's"),
  account: described(
    z.optional(z.string()),
    "The group's account, when not the service's (reached through the target role)",
  ),
  status: z.enum([
    'pending',
    'versioned',
    'refreshing',
    'succeeded',
    'failed',
    'rolling-back',
    'rolled-back',
    'cancelled',
  ]),
  templateId: z.optional(z.string()),
  sourceVersion: z.optional(z.number()),
  version: z.optional(z.number()),
  refreshId: z.optional(z.string()),
  rollbackRefreshId: described(
    z.optional(z.string()),
    'The refresh taking it back to sourceVersion (onFailure: rollback)',
  ),
  percentage: z.optional(z.number()),
  baking: described(z.optional(z.boolean()), 'Its refresh is in its bake time'),
  checkpoint: z.optional(z.number()),
  prunedVersions: z.optional(z.array(z.number())),
  pruneProblem: z.optional(z.string()),
  madeDefault: described(z.optional(z.boolean()), 'ami-bakery made its version the template default'),
  ended: described(
    z.optional(
      z.object({
        groupVersion: described(
          z.string(),
          'The version the group names ("$Default" and "$Latest" as named)',
        ),
        instances: described(
          z.array(z.object({ version: z.string(), count: z.number() })),
          "The group's instances per template version they were launched from",
        ),
        defaultVersion: described(z.optional(z.number()), 'The template default once the bake ended'),
        defaultRestoredFrom: described(
          z.optional(z.number()),
          "The bake's version, default until the unsuccessful bake put the previous one back",
        ),
        defaultProblem: described(z.optional(z.string()), 'Why the default could not be put back'),
      }),
    ),
    'Where the group stood when the bake ended',
  ),
  reason: z.optional(z.string()),
});

/** A bake (or a rollout of an existing image) as the API shows it. */
export const bakeView = z.object({
  id: z.string(),
  kind: z.enum(['bake', 'rollout']),
  pipeline: z.string(),
  phase: z.enum(PHASES),
  version: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  phaseStartedAt: z.string(),
  reason: z.optional(z.string()),
  region: z.string(),
  baseImageId: z.string(),
  recipeHash: z.string(),
  builder: z.optional(
    z.object({ instanceId: z.optional(z.string()), attempt: z.number(), instanceType: z.string() }),
  ),
  tester: z.optional(z.object({ instanceId: z.optional(z.string()) })),
  steps: z.array(
    z.object({
      stage: z.enum(['provision', 'validate', 'test']),
      name: z.string(),
      commandId: z.optional(z.string()),
      status: z.string(),
      exitCode: z.optional(z.number()),
      outputTail: z.optional(z.string()),
      errorTail: z.optional(z.string()),
    }),
  ),
  image: z.optional(z.object({ imageId: z.string(), name: z.string() })),
  copies: z.array(z.object({ region: z.string(), imageId: z.string() })),
  published: z.array(z.object({ region: z.string(), parameter: z.string(), imageId: z.string() })),
  cancelRequested: z.boolean(),
  rollout: z.optional(z.array(target)),
  waves: described(
    z.optional(
      z.array(
        z.object({
          name: z.string(),
          status: z.enum([
            'pending',
            'awaiting-approval',
            'rolling',
            'baking',
            'succeeded',
            'failed',
            'rolled-back',
            'cancelled',
          ]),
          startedAt: z.optional(z.string()),
          endedAt: z.optional(z.string()),
          approval: z.optional(approval),
          reason: z.optional(z.string()),
        }),
      ),
    ),
    "The rollout's waves in order",
  ),
  approval: described(
    z.optional(approval),
    'The answer at the approval gate the bake waits at now, or last waited at',
  ),
  rollbackFor: described(z.optional(failure), 'While rolling back: the failure the bake ends with'),
  failure: z.optional(failure),
  timeline: z.array(z.object({ phase: z.enum(PHASES), at: z.string() })),
  finishedAt: described(z.optional(z.string()), 'When the bake reached its final phase'),
  durations: described(
    z.array(z.object({ phase: z.enum(PHASES), seconds: z.number() })),
    'Seconds spent in each phase, in order (the one under way: so far)',
  ),
  resources: z.array(
    z.object({ kind: z.enum(['instance', 'image', 'parameter']), id: z.string(), region: z.string() }),
  ),
  cleanup: described(
    z.optional(
      z.object({
        instances: z.array(
          z.object({
            instanceId: z.string(),
            role: z.enum(['builder', 'tester']),
            state: described(z.string(), 'As EC2 last showed it'),
          }),
        ),
        confirmedAt: described(z.optional(z.string()), 'When EC2 showed every instance terminated'),
        gaveUpAt: described(
          z.optional(z.string()),
          'When the bake stopped watching (an hour after it ended); the janitor sweeps the rest',
        ),
      }),
    ),
    'Set when the bake ends: whether its builder and tester are really terminated',
  ),
});

export const bakeResponse = z.object({ bake: bakeView });

export const skippedResponse = z.object({
  skipped: z.literal(true),
  reason: z.string(),
  lastBakeId: z.string(),
});

export const bakeListResponse = z.object({
  bakes: z.array(bakeView),
  next: described(z.optional(z.string()), 'Pass as `cursor` for the next page'),
});

export const pipelinesResponse = z.object({
  pipelines: z.array(
    z.object({
      name: z.string(),
      description: z.optional(z.string()),
      parameter: z.string(),
      currentImageId: described(
        z.nullable(z.string()),
        "The value of the published SSM parameter in the stack's region",
      ),
      currentImages: described(
        z.array(z.object({ region: z.string(), imageId: z.nullable(z.string()) })),
        'The published parameter in every region the pipeline publishes to, home first',
      ),
      nightly: z.boolean(),
      nextNightly: described(
        z.nullable(
          z.object({
            at: described(
              z.nullable(z.string()),
              'When the nightly check runs next (UTC), if the schedule says',
            ),
            schedule: described(z.nullable(z.string()), 'The nightly schedule expression'),
            wouldBake: described(z.boolean(), 'Whether it would bake, were it to run now'),
            reason: z.string(),
          }),
        ),
        'For a nightly pipeline: what its next nightly check would do, asked now',
      ),
      requireApproval: z.boolean(),
      targets: described(z.array(z.string()), 'Every target group, wave after wave'),
      waves: z.array(
        z.object({
          name: z.string(),
          targets: z.array(z.string()),
          bakeMinutes: z.int(),
          requireApproval: z.boolean(),
        }),
      ),
      lastBake: z.nullable(bakeView),
      lastSucceeded: z.nullable(bakeView),
    }),
  ),
});

const plannedImage = z.object({
  imageId: z.string(),
  region: z.string(),
  name: z.string(),
  createdAt: z.string(),
  bakeId: z.optional(z.string()),
  failed: z.boolean(),
  snapshots: z.array(z.object({ snapshotId: z.string(), sizeGiB: z.number() })),
  reasons: described(z.array(z.string()), 'Why it is kept; empty for an image to delete'),
});

/** What the janitor would do for a pipeline now: nothing is changed by asking. */
export const retentionResponse = z.object({
  plan: z.object({
    pipeline: z.string(),
    keep: z.array(plannedImage),
    delete: z.array(plannedImage),
    reclaimGiB: z.number(),
  }),
});

/** RFC 9457 problem details, with the offending field and the active bake where they apply. */
export const problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  field: z.optional(z.string()),
  activeBakeId: z.optional(z.string()),
  requestId: described(z.optional(z.string()), 'As in the X-Request-Id header and the logs'),
});
