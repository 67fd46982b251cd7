import * as z from '../zod';

const nonEmpty = () => z.string().check(z.minLength(1));
/** An integer in [min, max]. */
const integer = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));

/** A shell step run through SSM Run Command (`AWS-RunShellScript`), never over SSH. */
const stepSchema = z.strictObject({
  name: z
    .string()
    .check(z.regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and dashes, at most 40')),
  run: z.array(nonEmpty()).check(z.minLength(1)),
  timeoutSeconds: z._default(integer(30, 172_800), 900),
});

const baseImageSchema = z.union([
  z.strictObject({
    /** An SSM public parameter such as /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64. */
    ssmParameter: z.string().check(z.startsWith('/')),
  }),
  z.strictObject({
    /** The newest available image matching a name pattern, from the given owners. */
    filter: z.strictObject({
      owners: z.array(nonEmpty()).check(z.minLength(1)),
      name: nonEmpty(),
      architecture: z._default(z.enum(['x86_64', 'arm64']), 'x86_64'),
    }),
  }),
]);

const regionSchema = z
  .string()
  .check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1'));

/** Seconds each phase may take before the bake fails; missing phases use these defaults. */
export const DEFAULT_DEADLINES = {
  launching: 600,
  provisioning: 3_600,
  validating: 1_800,
  stopping: 600,
  imaging: 3_600,
  testing: 3_600,
  distributing: 7_200,
  publishing: 600,
  /** How long a bake waits for a person at the approval gate (3 days). */
  'awaiting-approval': 259_200,
  rolling: 600,
  refreshing: 14_400,
  /** Refreshing the groups of the waves already done back to their earlier versions (`onFailure: rollback`). */
  'rolling-back': 14_400,
} as const;

/** What the lifecycle function does while Auto Scaling holds an instance in a wait state. */
const lifecycleSchema = z.strictObject({
  /** Launching: CONTINUE once this passes, ABANDON if it fails or outlasts its timeout. */
  readiness: z.optional(
    z.union([
      z.strictObject({
        /** Shell lines run on the instance through SSM, e.g. curl -fsS localhost:3000/health. */
        command: z.array(nonEmpty()).check(z.minLength(1)),
        timeoutSeconds: z._default(integer(10, 7_200), 600),
      }),
      z.strictObject({
        /** Both EC2 status checks (system and instance) ok. */
        ec2StatusChecks: z.literal(true),
        timeoutSeconds: z._default(integer(10, 7_200), 600),
      }),
    ]),
  ),
  /** Terminating: run this (stop taking traffic, flush logs), then CONTINUE even if it fails. */
  drain: z.optional(
    z.strictObject({
      command: z.array(nonEmpty()).check(z.minLength(1)),
      timeoutSeconds: z._default(integer(10, 3_600), 300),
    }),
  ),
});

const accountSchema = z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit account id'));

/** One group a rollout moves to the new image. */
const targetSchema = z.strictObject({
  /** The group whose launch template gets a new version and whose instances are refreshed. */
  autoScalingGroup: z.string().check(z.minLength(1), z.maxLength(255)),
  /**
   * The group's region, when not the stack's: it runs the pipeline's copy of the image there, so
   * the region must be one of `distribute.regions`.
   */
  region: z.optional(regionSchema),
  /**
   * The group's account, when not the stack's: the service assumes `rollout.targetRole` there
   * (resources/target-account-role.yml), and the image is shared with it, so the account must be
   * one of `distribute.accounts`.
   */
  account: z.optional(accountSchema),
  /** Make the new version the template's default (groups that use $Default follow it). */
  setDefaultVersion: z._default(z.boolean(), true),
  /** Lifecycle hook handling for this group, instead of the pipeline's. */
  lifecycle: z.optional(lifecycleSchema),
});

/**
 * A stage of a rollout: its groups are refreshed together, and the next wave starts only once
 * every refresh of this one succeeded (after its bake time).
 */
const waveSchema = z.strictObject({
  /** Shown in the record, the CLI and notifications; `wave-1`, `wave-2`... when absent. */
  name: z.optional(z.string().check(z.regex(/^[A-Za-z0-9][\w.-]{0,62}$/))),
  targets: z.array(targetSchema).check(z.minLength(1)),
  /**
   * After each group's last replacement, its refresh stays `Baking` this long with the alarms
   * still watched (Instance Refresh's own BakeTime); the wave ends when every group's has.
   */
  bakeMinutes: z._default(integer(0, 2_880), 0),
  /** CloudWatch alarms that fail (and, with autoRollback, roll back) this wave's refreshes, bake time included. */
  alarms: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(255))).check(z.maxLength(10)), []),
  /** A person approves before this wave starts (the first wave's gate is also `rollout.requireApproval`). */
  requireApproval: z._default(z.boolean(), false),
});

const refreshSchema = z
  .strictObject({
    minHealthyPercentage: z._default(integer(0, 100), 90),
    maxHealthyPercentage: z._default(integer(100, 200), 100),
    instanceWarmupSeconds: z.optional(integer(0, 3_600)),
    skipMatching: z._default(z.boolean(), true),
    autoRollback: z._default(z.boolean(), true),
    checkpointPercentages: z.optional(z.array(integer(1, 100))),
    checkpointDelaySeconds: z.optional(integer(0, 172_800)),
    /**
     * After the last replacement, the refresh stays `Baking` this long (its alarms still
     * watched) before it succeeds (RefreshPreferences.BakeTime).
     */
    bakeTimeSeconds: z.optional(integer(0, 172_800)),
    /** CloudWatch alarms that fail (and, with autoRollback, roll back) the refresh. */
    alarms: z._default(z.array(nonEmpty()), []),
    /**
     * Instances protected from scale in: replace them (Refresh), leave them (Ignore), or wait
     * for the protection to go, up to an hour, then fail (Wait: AWS's default, and ours).
     */
    scaleInProtectedInstances: z._default(z.enum(['Refresh', 'Ignore', 'Wait']), 'Wait'),
    /** Instances in Standby: terminate them, leave them, or wait (up to an hour) for them. */
    standbyInstances: z._default(z.enum(['Terminate', 'Ignore', 'Wait']), 'Wait'),
  })
  .check(
    // AWS refuses a CheckpointDelay without CheckpointPercentages (RefreshPreferences).
    z.refine((refresh) => refresh.checkpointDelaySeconds === undefined || refresh.checkpointPercentages, {
      message: 'checkpointDelaySeconds needs checkpointPercentages',
      path: ['checkpointDelaySeconds'],
    }),
    // A last checkpoint below 100 ends AWS's refresh there, Successful, with part of the fleet
    // still on the old image: a rollout must replace the whole fleet, so it ends with 100.
    z.refine((refresh) => (refresh.checkpointPercentages?.at(-1) ?? 100) === 100, {
      message: 'the last of checkpointPercentages must be 100 (a rollout replaces the whole fleet)',
      path: ['checkpointPercentages'],
    }),
  );

/** Where the new image goes after publishing: launch templates, then Instance Refresh, wave by wave. */
const rolloutSchema = z
  .strictObject({
    /** The groups, all in one wave (or give `waves` instead). */
    targets: z.optional(z.array(targetSchema).check(z.minLength(1))),
    /** Ordered stages, each with its own groups, bake time, alarms and approval. */
    waves: z.optional(z.array(waveSchema).check(z.minLength(1), z.maxLength(20))),
    /**
     * When a wave fails: `stop` leaves the waves already done on the new image; `rollback`
     * refreshes their groups back to the versions they ran before and puts their defaults back.
     */
    onFailure: z._default(z.enum(['stop', 'rollback']), 'stop'),
    /**
     * The role a target in another account is reached through: the same name in every target
     * account (a StackSet of resources/target-account-role.yml), assumed with this ExternalId.
     */
    targetRole: z.optional(
      z.strictObject({
        /** The stack may assume only roles named so (serverless.yml, ReachTargetAccounts). */
        name: z._default(
          z
            .string()
            .check(
              z.regex(
                /^ami-bakery-target[\w+=,.@-]{0,47}$/,
                'must start with ami-bakery-target (the only roles the stack may assume)',
              ),
            ),
          'ami-bakery-target',
        ),
        externalId: z
          .string()
          .check(z.regex(/^[\w+=,.@:/-]{2,1224}$/, 'letters, digits and +=,.@:/-, 2 to 1224')),
      }),
    ),
    refresh: z._default(refreshSchema, {
      minHealthyPercentage: 90,
      maxHealthyPercentage: 100,
      skipMatching: true,
      autoRollback: true,
      alarms: [],
      scaleInProtectedInstances: 'Wait',
      standbyInstances: 'Wait',
    }),
    /** A refresh already running on a group (not ours): wait for it, or cancel it. */
    whenRefreshInProgress: z._default(z.enum(['wait', 'cancel']), 'wait'),
    /** Wait after publishing until someone approves (or rejects) the rollout. */
    requireApproval: z._default(z.boolean(), false),
    /**
     * After a successful refresh, delete the versions ami-bakery made beyond this many newest
     * ones; never the default, the latest, or one a group or an active refresh names.
     */
    keepTemplateVersions: z._default(integer(1, 1_000), 10),
  })
  .check(
    z.refine((rollout) => (rollout.targets === undefined) !== (rollout.waves === undefined), {
      message: 'give either targets (one wave) or waves',
    }),
    z.refine(
      (rollout) => {
        const groups = targetsOf(rollout).map(
          (t) => `${t.account ?? ''}/${t.region ?? ''}/${t.autoScalingGroup}`,
        );
        return new Set(groups).size === groups.length;
      },
      { message: 'a group can be the target of one wave only, once' },
    ),
  );

const deadlinesSchema = z._default(
  z.strictObject(
    Object.fromEntries(
      Object.keys(DEFAULT_DEADLINES).map((phase) => [phase, z.optional(integer(10, 604_800))]),
    ) as Record<keyof typeof DEFAULT_DEADLINES, z.ZodMiniOptional<z.ZodMiniNumberFormat>>,
  ),
  {},
);

/** A pipeline's name: it becomes part of tags, SSM paths, image names and IAM-scoped resource names. */
export const PIPELINE_NAME = /^[a-z][a-z0-9-]{1,38}$/;
export const PIPELINE_NAME_RULE = 'lowercase letters, digits and dashes, 2 to 39, starting with a letter';

export const pipelineSchema = z
  .strictObject({
    name: z.string().check(z.regex(PIPELINE_NAME, PIPELINE_NAME_RULE)),
    description: z.optional(z.string().check(z.maxLength(255))),
    baseImage: baseImageSchema,
    builder: z.strictObject({
      /** Tried in order when EC2 answers InsufficientInstanceCapacity. */
      instanceTypes: z.array(z.string().check(z.regex(/^[a-z0-9-]+\.[a-z0-9]+$/))).check(z.minLength(1)),
      spot: z._default(z.boolean(), false),
      /** A subnet id, or the Name tag of the subnet. */
      subnet: nonEmpty(),
      /** Security group ids, or group names. The builder needs no inbound rule. */
      securityGroups: z.array(nonEmpty()).check(z.minLength(1)),
      /**
       * Instance profile name; its role needs AmazonSSMManagedInstanceCore. Absent: the stack's
       * own builder profile (named per stage and region, BUILDER_INSTANCE_PROFILE).
       */
      instanceProfile: z.optional(nonEmpty()),
      associatePublicIp: z._default(z.boolean(), false),
      rootVolume: z._default(
        z.strictObject({
          sizeGiB: z._default(integer(8, 16_384), 16),
          type: z._default(z.enum(['gp3', 'gp2', 'io2']), 'gp3'),
          /** KMS key for the (always encrypted) volume; the account default key when absent. */
          kmsKeyId: z.optional(z.string()),
        }),
        { sizeGiB: 16, type: 'gp3' },
      ),
    }),
    provision: z.array(stepSchema).check(z.minLength(1)),
    validate: z._default(z.array(stepSchema), []),
    /** Optional test stage: a fresh instance from the new image runs these; failure fails the bake. */
    test: z.optional(
      z.strictObject({
        instanceType: z.optional(z.string()),
        steps: z.array(stepSchema).check(z.minLength(1)),
      }),
    ),
    image: z.strictObject({
      /** Placeholders: {pipeline}, {date} (YYYYMMDD-HHmmss, UTC), {bakeId}. */
      name: z
        .string()
        .check(
          z.minLength(3),
          z.maxLength(100),
          z.includes('{bakeId}', { message: 'must contain {bakeId}, to stay unique' }),
        ),
      description: z.optional(z.string().check(z.maxLength(255))),
      tags: z._default(
        z.record(z.string().check(z.minLength(1), z.maxLength(128)), z.string().check(z.maxLength(256))),
        {},
      ),
    }),
    distribute: z._default(
      z.strictObject({
        regions: z._default(z.array(regionSchema), []),
        accounts: z._default(z.array(accountSchema), []),
        organizationalUnits: z._default(
          z.array(z.string().check(z.startsWith('arn:aws:organizations::'))),
          [],
        ),
        /**
         * The KMS key each copy is encrypted with, by region (absent: the region's default EBS key).
         * An image shared with other accounts needs customer managed keys that allow them: the
         * AWS managed aws/ebs key cannot be shared (docs/cross-account.md).
         */
        kmsKeys: z._default(z.record(regionSchema, nonEmpty()), {}),
      }),
      { regions: [], accounts: [], organizationalUnits: [], kmsKeys: {} },
    ),
    publish: z.strictObject({ parameter: z.string().check(z.regex(/^\/[\w./-]+$/)) }),
    rollout: z.optional(rolloutSchema),
    /** Lifecycle hook handling for the rollout's target groups (a target may override it). */
    lifecycle: z.optional(lifecycleSchema),
    schedule: z._default(
      z.strictObject({
        /** Re-bake nightly only if the base image or recipe changed, or the last bake is older. */
        nightly: z._default(z.boolean(), false),
        maxAgeDays: z._default(integer(1, 365), 30),
      }),
      { nightly: false, maxAgeDays: 30 },
    ),
    deadlines: deadlinesSchema,
    /** Which of the pipeline's images the janitor keeps; it never touches one still in use. */
    retention: z._default(
      z.strictObject({
        /** The newest successful images kept in each region. */
        keep: z._default(integer(1, 1_000), 5),
        /** Images younger than this are kept whatever their rank. */
        minAgeDays: z._default(integer(0, 3_650), 7),
        /** Only plan, never delete (the first run of a pipeline is always a dry run). */
        dryRun: z._default(z.boolean(), false),
      }),
      { keep: 5, minAgeDays: 7, dryRun: false },
    ),
  })
  .check(
    z.superRefine((pipeline, context) => {
      // A target in another region runs the pipeline's copy there.
      const regions = new Set(pipeline.distribute.regions);
      for (const target of pipeline.rollout ? targetsOf(pipeline.rollout) : []) {
        if (target.region !== undefined && !regions.has(target.region))
          context.addIssue({
            code: 'custom',
            path: ['rollout'],
            message: `${target.autoScalingGroup} is in ${target.region}, where the pipeline does not distribute the image: add the region to distribute.regions (or omit region for the stack's own)`,
          });
      }
      // A target in another account launches the image shared with it, through the target role.
      const accounts = new Set(pipeline.distribute.accounts);
      for (const target of pipeline.rollout ? targetsOf(pipeline.rollout) : []) {
        if (target.account === undefined) continue;
        if (!accounts.has(target.account))
          context.addIssue({
            code: 'custom',
            path: ['rollout'],
            message: `${target.autoScalingGroup} is in account ${target.account}, which the image is not shared with: add it to distribute.accounts (or omit account for the stack's own)`,
          });
        if (!pipeline.rollout?.targetRole)
          context.addIssue({
            code: 'custom',
            path: ['rollout', 'targetRole'],
            message: `${target.autoScalingGroup} is in account ${target.account}: give rollout.targetRole (the role's name there and its ExternalId)`,
          });
      }
      for (const region of Object.keys(pipeline.distribute.kmsKeys))
        if (!regions.has(region))
          context.addIssue({
            code: 'custom',
            path: ['distribute', 'kmsKeys', region],
            message: `${region} is not one of distribute.regions: a key is for a copy the pipeline makes`,
          });
      // A wave's bake time runs inside its refreshes, so inside the refreshing deadline.
      const allowed = pipeline.deadlines.refreshing ?? DEFAULT_DEADLINES.refreshing;
      (pipeline.rollout?.waves ?? []).forEach((wave, index) => {
        if (wave.bakeMinutes * 60 >= allowed)
          context.addIssue({
            code: 'custom',
            path: ['rollout', 'waves', index, 'bakeMinutes'],
            message: `the bake time (${wave.bakeMinutes * 60} s) must be shorter than deadlines.refreshing (${allowed} s)`,
          });
      });
    }),
  );

export type PipelineInput = z.input<typeof pipelineSchema>;
type ParsedPipeline = z.output<typeof pipelineSchema>;
/** A loaded pipeline: its builder profile is always known (`loadPipelines` fills the default in). */
export type Pipeline = Omit<ParsedPipeline, 'builder'> & {
  readonly builder: ParsedPipeline['builder'] & { readonly instanceProfile: string };
};
export type Step = z.output<typeof stepSchema>;
export type Rollout = z.output<typeof rolloutSchema>;
export type RolloutTargetConfig = z.output<typeof targetSchema>;

/** A rollout's waves in order, named; `targets` is one wave. */
export interface Wave {
  readonly name: string;
  readonly targets: readonly RolloutTargetConfig[];
  readonly bakeMinutes: number;
  readonly alarms: readonly string[];
  readonly requireApproval: boolean;
}

export function wavesOf(rollout: Pick<Rollout, 'targets' | 'waves' | 'requireApproval'>): Wave[] {
  const waves = rollout.waves ?? [
    { targets: rollout.targets ?? [], bakeMinutes: 0, alarms: [], requireApproval: false },
  ];
  return waves.map((wave, index) => ({
    name: wave.name ?? `wave-${index + 1}`,
    targets: wave.targets,
    bakeMinutes: wave.bakeMinutes,
    alarms: wave.alarms,
    // The rollout's own gate is the first wave's.
    requireApproval: wave.requireApproval || (index === 0 && rollout.requireApproval),
  }));
}

/** Every target of a rollout, wave after wave. */
export function targetsOf(rollout: {
  readonly targets?: readonly RolloutTargetConfig[] | undefined;
  readonly waves?: readonly { readonly targets: readonly RolloutTargetConfig[] }[] | undefined;
}): RolloutTargetConfig[] {
  return [...(rollout.targets ?? []), ...(rollout.waves ?? []).flatMap((wave) => wave.targets)];
}
export type LifecycleConfig = z.output<typeof lifecycleSchema>;
export type DeadlinePhase = keyof typeof DEFAULT_DEADLINES;

/**
 * How long a phase may last for a pipeline: its own deadline, else the default; undefined for a
 * phase with none (requested, and the terminal phases).
 */
export function deadlineOf(
  pipeline: Pick<Pipeline, 'deadlines'> | undefined,
  phase: string,
): number | undefined {
  return (
    pipeline?.deadlines[phase as DeadlinePhase] ??
    (DEFAULT_DEADLINES as Partial<Record<string, number>>)[phase]
  );
}

export const pipelinesSchema = z.array(pipelineSchema).check(z.minLength(1));
