import * as z from 'zod';
import { PHASES } from '../bake/model';
import { PIPELINE_NAME, PIPELINE_NAME_RULE } from '../pipeline/schema';

/**
 * The HTTP API's contract: request bodies, query strings and responses. Routes validate with
 * these, the route tests check every response against them, and docs/openapi.json is generated
 * from them (a test keeps it in step).
 */

// A name no pipeline can have is a bad request (422), not an unknown pipeline (404).
const pipelineName = z.string().regex(PIPELINE_NAME, PIPELINE_NAME_RULE).describe('A configured pipeline');
const imageId = z
  .string()
  .regex(/^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'an AMI id: ami- and 8 or 17 hex digits');
const text = (max: number) => z.string().min(1).max(max);

export const startBakeBody = z
  .object({
    pipeline: pipelineName,
    reason: text(500).optional().describe('Why, for the record and the notifications'),
    force: z
      .boolean()
      .default(false)
      .describe('Bake even if the base image and the recipe are those of the last successful bake'),
  })
  .strict();

export const startRolloutBody = z
  .object({
    pipeline: pipelineName,
    amiId: imageId.describe('An available image this pipeline baked'),
    reason: text(500).optional(),
  })
  .strict();

export const cancelBody = z.object({}).strict();

export const approvalBody = z
  .object({ comment: text(1000).optional().describe('Kept with the approval in the record') })
  .strict();

export const listQuery = z
  .object({
    pipeline: pipelineName.optional(),
    status: z
      .enum([...PHASES, 'active'])
      .optional()
      .describe('A phase, or `active` for unfinished bakes'),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().min(1).max(2048).optional().describe('`next` of the previous page'),
  })
  .strict();

export const idempotencyKeyHeader = z
  .string()
  .regex(/^[\x21-\x7e]{1,128}$/, '1 to 128 printable ASCII characters, no spaces');

const failure = z.object({
  phase: z.string(),
  code: z.string(),
  message: z.string(),
  step: z.string().optional(),
  output: z.string().optional(),
});

const approval = z.object({
  decision: z.enum(['approved', 'rejected']),
  at: z.string(),
  by: z.string().optional(),
  comment: z.string().optional(),
});

const target = z.object({
  group: z.string(),
  wave: z.number().int().optional().describe('Its wave: an index into `waves`'),
  region: z.string().optional().describe("The group's region, when not the bake's"),
  account: z
    .string()
    .optional()
    .describe("The group's account, when not the service's (reached through the target role)"),
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
  templateId: z.string().optional(),
  sourceVersion: z.number().optional(),
  version: z.number().optional(),
  refreshId: z.string().optional(),
  rollbackRefreshId: z
    .string()
    .optional()
    .describe('The refresh taking it back to sourceVersion (onFailure: rollback)'),
  percentage: z.number().optional(),
  baking: z.boolean().optional().describe('Its refresh is in its bake time'),
  checkpoint: z.number().optional(),
  prunedVersions: z.array(z.number()).optional(),
  pruneProblem: z.string().optional(),
  madeDefault: z.boolean().optional().describe('ami-bakery made its version the template default'),
  ended: z
    .object({
      groupVersion: z.string().describe('The version the group names ("$Default" and "$Latest" as named)'),
      instances: z
        .array(z.object({ version: z.string(), count: z.number() }))
        .describe("The group's instances per template version they were launched from"),
      defaultVersion: z.number().optional().describe('The template default once the bake ended'),
      defaultRestoredFrom: z
        .number()
        .optional()
        .describe("The bake's version, default until the unsuccessful bake put the previous one back"),
      defaultProblem: z.string().optional().describe('Why the default could not be put back'),
    })
    .optional()
    .describe('Where the group stood when the bake ended'),
  reason: z.string().optional(),
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
  reason: z.string().optional(),
  region: z.string(),
  baseImageId: z.string(),
  recipeHash: z.string(),
  builder: z
    .object({ instanceId: z.string().optional(), attempt: z.number(), instanceType: z.string() })
    .optional(),
  tester: z.object({ instanceId: z.string().optional() }).optional(),
  steps: z.array(
    z.object({
      stage: z.enum(['provision', 'validate', 'test']),
      name: z.string(),
      commandId: z.string().optional(),
      status: z.string(),
      exitCode: z.number().optional(),
      outputTail: z.string().optional(),
      errorTail: z.string().optional(),
    }),
  ),
  image: z.object({ imageId: z.string(), name: z.string() }).optional(),
  copies: z.array(z.object({ region: z.string(), imageId: z.string() })),
  published: z.array(z.object({ region: z.string(), parameter: z.string(), imageId: z.string() })),
  cancelRequested: z.boolean(),
  rollout: z.array(target).optional(),
  waves: z
    .array(
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
        startedAt: z.string().optional(),
        endedAt: z.string().optional(),
        approval: approval.optional(),
        reason: z.string().optional(),
      }),
    )
    .optional()
    .describe("The rollout's waves in order"),
  approval: approval
    .optional()
    .describe('The answer at the approval gate the bake waits at now, or last waited at'),
  rollbackFor: failure.optional().describe('While rolling back: the failure the bake ends with'),
  failure: failure.optional(),
  timeline: z.array(z.object({ phase: z.enum(PHASES), at: z.string() })),
  finishedAt: z.string().optional().describe('When the bake reached its final phase'),
  durations: z
    .array(z.object({ phase: z.enum(PHASES), seconds: z.number() }))
    .describe('Seconds spent in each phase, in order (the one under way: so far)'),
  resources: z.array(
    z.object({ kind: z.enum(['instance', 'image', 'parameter']), id: z.string(), region: z.string() }),
  ),
  cleanup: z
    .object({
      instances: z.array(
        z.object({
          instanceId: z.string(),
          role: z.enum(['builder', 'tester']),
          state: z.string().describe('As EC2 last showed it'),
        }),
      ),
      confirmedAt: z.string().optional().describe('When EC2 showed every instance terminated'),
      gaveUpAt: z
        .string()
        .optional()
        .describe('When the bake stopped watching (an hour after it ended); the janitor sweeps the rest'),
    })
    .optional()
    .describe('Set when the bake ends: whether its builder and tester are really terminated'),
});

export const bakeResponse = z.object({ bake: bakeView });

export const skippedResponse = z.object({
  skipped: z.literal(true),
  reason: z.string(),
  lastBakeId: z.string(),
});

export const bakeListResponse = z.object({
  bakes: z.array(bakeView),
  next: z.string().optional().describe('Pass as `cursor` for the next page'),
});

export const pipelinesResponse = z.object({
  pipelines: z.array(
    z.object({
      name: z.string(),
      description: z.string().optional(),
      parameter: z.string(),
      currentImageId: z
        .string()
        .nullable()
        .describe("The value of the published SSM parameter in the stack's region"),
      currentImages: z
        .array(z.object({ region: z.string(), imageId: z.string().nullable() }))
        .describe('The published parameter in every region the pipeline publishes to, home first'),
      nightly: z.boolean(),
      nextNightly: z
        .object({
          at: z.string().nullable().describe('When the nightly check runs next (UTC), if the schedule says'),
          schedule: z.string().nullable().describe('The nightly schedule expression'),
          wouldBake: z.boolean().describe('Whether it would bake, were it to run now'),
          reason: z.string(),
        })
        .nullable()
        .describe('For a nightly pipeline: what its next nightly check would do, asked now'),
      requireApproval: z.boolean(),
      targets: z.array(z.string()).describe('Every target group, wave after wave'),
      waves: z.array(
        z.object({
          name: z.string(),
          targets: z.array(z.string()),
          bakeMinutes: z.number().int(),
          requireApproval: z.boolean(),
        }),
      ),
      lastBake: bakeView.nullable(),
      lastSucceeded: bakeView.nullable(),
    }),
  ),
});

const plannedImage = z.object({
  imageId: z.string(),
  region: z.string(),
  name: z.string(),
  createdAt: z.string(),
  bakeId: z.string().optional(),
  failed: z.boolean(),
  snapshots: z.array(z.object({ snapshotId: z.string(), sizeGiB: z.number() })),
  reasons: z.array(z.string()).describe('Why it is kept; empty for an image to delete'),
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
  status: z.number().int(),
  detail: z.string(),
  field: z.string().optional(),
  activeBakeId: z.string().optional(),
  requestId: z.string().optional().describe('As in the X-Request-Id header and the logs'),
});
