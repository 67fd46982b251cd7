import {
  CopyImageCommand,
  CreateImageCommand,
  CreateTagsCommand,
  DescribeSecurityGroupsCommand,
  type SecurityGroup,
  DescribeSubnetsCommand,
  ModifyImageAttributeCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import {
  AddTagsToResourceCommand,
  PutParameterCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import {
  CancelInstanceRefreshCommand,
  StartInstanceRefreshCommand,
  type AutoScalingClient,
  type RefreshPreferences,
} from '@aws-sdk/client-auto-scaling';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { AssumedRole } from '../aws/regional';
import { describeError, isAwsError, isTransient, RefusedError } from '../errors';
import { roleFor, where } from './waves';
import { shareSnapshots } from './share';
import {
  ensureRolloutVersion,
  pruneRolloutVersions,
  restoreDefaultVersion,
} from '../rollout/launch-template';
import { targetsOf, type Pipeline } from '../pipeline/schema';
import type { Action, ActionResult, BakeRecord } from './model';
import { commandComment, serviceTags, TAG_RECIPE, TAG_ROLE, TAG_STATUS } from '../aws/tags';

export interface ActClients {
  /** Auto Scaling where each rollout target is (the bake's region, or another; another account through its role). */
  readonly autoScalingIn: (region: string, role?: AssumedRole) => Pick<AutoScalingClient, 'send'>;
  readonly ec2In: (region: string, role?: AssumedRole) => Pick<EC2Client, 'send'>;
  readonly ssmIn: (region: string) => Pick<SSMClient, 'send'>;
  readonly kmsIn: (region: string, role?: AssumedRole) => Pick<KMSClient, 'send'>;
}

/** The clients of a target's place: its region (the bake's by default), its account through the target role. */
function at(
  clients: ActClients,
  pipeline: Pipeline | undefined,
  bake: BakeRecord,
  place: { readonly region?: string | undefined; readonly account?: string | undefined },
) {
  const region = place.region ?? bake.region;
  const role = roleFor(pipeline, bake, place.account);
  return { ec2: clients.ec2In(region, role), autoScaling: clients.autoScalingIn(region, role) };
}

/**
 * Resolved builder networks, per EC2 client (so per account and region) and pipeline: subnets
 * and groups rarely change, and launches come in bursts.
 */
const networkCache = new WeakMap<
  object,
  Map<string, { value: { subnetId: string; groupIds: string[] }; until: number }>
>();
const NETWORK_TTL_MS = 5 * 60_000;

async function cachedNetwork(
  ec2: Pick<EC2Client, 'send'>,
  pipeline: Pipeline,
): Promise<{ subnetId: string; groupIds: string[] }> {
  let cache = networkCache.get(ec2);
  if (!cache) {
    cache = new Map();
    networkCache.set(ec2, cache);
  }
  const key = JSON.stringify([pipeline.builder.subnet, pipeline.builder.securityGroups]);
  const hit = cache.get(key);
  if (hit && hit.until > Date.now()) return hit.value;
  const value = await network(ec2, pipeline);
  cache.set(key, { value, until: Date.now() + NETWORK_TTL_MS });
  return value;
}

/**
 * Resolves the builder's subnet and security groups, given by id or by Name tag / group name,
 * and refuses groups that allow any inbound traffic.
 */
async function network(
  ec2: Pick<EC2Client, 'send'>,
  pipeline: Pipeline,
): Promise<{ subnetId: string; groupIds: string[] }> {
  const { subnet, securityGroups } = pipeline.builder;
  let subnetId = subnet;
  let vpcId: string | undefined;
  if (!subnet.startsWith('subnet-')) {
    const found = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: [subnet] }] }),
    );
    const match = found.Subnets?.[0];
    if (!match?.SubnetId) throw new RefusedError('SubnetNotFound', `No subnet tagged Name=${subnet}`);
    subnetId = match.SubnetId;
    vpcId = match.VpcId;
  }
  const names = securityGroups.filter((group) => !group.startsWith('sg-'));
  const ids = securityGroups.filter((group) => group.startsWith('sg-'));
  const described: SecurityGroup[] = [];
  if (names.length > 0) {
    const filters = [
      { Name: 'group-name', Values: names },
      ...(vpcId ? [{ Name: 'vpc-id', Values: [vpcId] }] : []),
    ];
    const found = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: filters }));
    if ((found.SecurityGroups ?? []).length < names.length) {
      throw new RefusedError('SecurityGroupNotFound', `Security groups not found: ${names.join(', ')}`);
    }
    described.push(...(found.SecurityGroups ?? []));
  }
  if (ids.length > 0) {
    const found = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ids }));
    described.push(...(found.SecurityGroups ?? []));
  }
  // No SSH and no inbound port: the builder is reached through SSM only. A group that lets
  // anything in is refused rather than trusted (Packer opens SSH; this service never needs to).
  const open = described.filter((group) => (group.IpPermissions ?? []).length > 0);
  if (open.length > 0) {
    throw Object.assign(
      new Error(
        `Builder security groups must allow no inbound traffic; ${open
          .map((group) => `${group.GroupName ?? ''} (${group.GroupId ?? ''})`)
          .join(', ')} has inbound rules`,
      ),
      { name: 'BuilderSecurityGroupOpen' },
    );
  }
  const groupIds = described.map((group) => group.GroupId ?? '');
  return { subnetId, groupIds };
}

async function launch(
  clients: ActClients,
  bake: BakeRecord,
  pipeline: Pipeline,
  action: Extract<Action, { kind: 'launch' }>,
): Promise<ActionResult> {
  const ec2 = clients.ec2In(bake.region);
  const { subnetId, groupIds } = await cachedNetwork(ec2, pipeline);
  const tags = [
    ...serviceTags(pipeline.name, bake.id),
    { Key: TAG_ROLE, Value: action.role },
    { Key: 'Name', Value: `ami-bakery-${action.role}-${pipeline.name}` },
  ];
  const volume = pipeline.builder.rootVolume;
  const spot = pipeline.builder.spot && action.role === 'builder';
  try {
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: action.imageId,
        InstanceType: action.instanceType as never,
        MinCount: 1,
        MaxCount: 1,
        // EC2 returns the instance of the first call for a retried token: a crash between
        // launch and commit never starts a second builder.
        ClientToken: action.clientToken,
        IamInstanceProfile: { Name: pipeline.builder.instanceProfile },
        // IMDSv2 only, and no hop for containers: the builder's credentials stay on the builder.
        MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
        NetworkInterfaces: [
          {
            DeviceIndex: 0,
            SubnetId: subnetId,
            Groups: groupIds,
            AssociatePublicIpAddress: pipeline.builder.associatePublicIp,
          },
        ],
        BlockDeviceMappings: [
          {
            DeviceName: bake.rootDeviceName,
            Ebs: {
              VolumeSize: volume.sizeGiB,
              VolumeType: volume.type,
              Encrypted: true,
              KmsKeyId: volume.kmsKeyId,
              DeleteOnTermination: true,
            },
          },
        ],
        InstanceMarketOptions: spot ? { MarketType: 'spot' } : undefined,
        // A Spot builder's request is a resource of its own, authorized (and tagged) with the launch.
        TagSpecifications: [
          { ResourceType: 'instance', Tags: tags },
          { ResourceType: 'volume', Tags: tags },
          ...(spot ? [{ ResourceType: 'spot-instances-request' as const, Tags: tags }] : []),
        ],
      }),
    );
    return { kind: 'launched', role: action.role, instanceId: run.Instances?.[0]?.InstanceId ?? '' };
  } catch (error) {
    if (isAwsError(error, 'InsufficientInstanceCapacity'))
      return { kind: 'no-capacity', instanceType: action.instanceType };
    throw error;
  }
}

/** The pipeline an action needs; a bake whose pipeline was removed can only end things. */
/** The rollout's target accounts with a group in `region`, each with its role for this bake. */
function targetAccountsIn(
  pipeline: Pipeline,
  bake: BakeRecord,
  region: string,
): { account: string; role: AssumedRole }[] {
  const accounts = new Set(
    (pipeline.rollout ? targetsOf(pipeline.rollout) : []).flatMap((t) =>
      t.account && (t.region ?? bake.region) === region ? [t.account] : [],
    ),
  );
  return [...accounts].flatMap((account) => {
    const role = roleFor(pipeline, bake, account);
    return role ? [{ account, role }] : [];
  });
}

function configured(pipeline: Pipeline | undefined, bake: BakeRecord): Pipeline {
  if (pipeline) return pipeline;
  throw new RefusedError('UnknownPipeline', `Pipeline ${bake.pipeline} is no longer configured`);
}

async function run(
  clients: ActClients,
  bake: BakeRecord,
  pipeline: Pipeline | undefined,
  action: Action,
): Promise<ActionResult> {
  const ec2 = clients.ec2In(bake.region);
  const tags = serviceTags(bake.pipeline, bake.id);
  switch (action.kind) {
    case 'launch':
      return launch(clients, bake, configured(pipeline, bake), action);
    case 'send-command': {
      const sent = await clients.ssmIn(bake.region).send(
        new SendCommandCommand({
          InstanceIds: [action.instanceId],
          DocumentName: 'AWS-RunShellScript',
          Comment: commandComment(bake.id, action.stage, action.step),
          Parameters: { commands: [...action.commands], executionTimeout: [String(action.timeoutSeconds)] },
        }),
      );
      return {
        kind: 'command-sent',
        stage: action.stage,
        step: action.step,
        commandId: sent.Command?.CommandId ?? '',
      };
    }
    case 'stop':
      await ec2.send(new StopInstancesCommand({ InstanceIds: [action.instanceId] }));
      return { kind: 'done' };
    case 'terminate': {
      const ended = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [...action.instanceIds] }));
      return {
        kind: 'terminating',
        instances: (ended.TerminatingInstances ?? []).map((i) => ({
          instanceId: i.InstanceId ?? '',
          state: i.CurrentState?.Name ?? 'shutting-down',
        })),
      };
    }
    case 'create-image': {
      const { image } = configured(pipeline, bake);
      const imageTags = [
        ...tags,
        { Key: TAG_RECIPE, Value: bake.recipeHash },
        ...Object.entries(image.tags).map(([Key, Value]) => ({ Key, Value })),
      ];
      const created = await ec2.send(
        new CreateImageCommand({
          InstanceId: action.instanceId,
          Name: action.name,
          Description: image.description ?? `${bake.pipeline}, baked by ami-bakery (${bake.id})`,
          NoReboot: true, // the builder is already stopped: a consistent file system without a reboot
          TagSpecifications: [
            { ResourceType: 'image', Tags: imageTags },
            { ResourceType: 'snapshot', Tags: imageTags },
          ],
        }),
      );
      return { kind: 'image-created', imageId: created.ImageId ?? '', name: action.name };
    }
    case 'mark-image-failed':
      await ec2.send(
        new CreateTagsCommand({ Resources: [action.imageId], Tags: [{ Key: TAG_STATUS, Value: 'failed' }] }),
      );
      return { kind: 'done' };
    case 'copy-image': {
      const target = clients.ec2In(action.region);
      const key = pipeline?.distribute.kmsKeys[action.region];
      const copyTags = [...tags, { Key: TAG_RECIPE, Value: bake.recipeHash }];
      const copied = await target.send(
        new CopyImageCommand({
          SourceImageId: action.sourceImageId,
          SourceRegion: bake.region,
          Name: action.name,
          ClientToken: `${bake.id}-${action.region}`,
          Encrypted: true,
          ...(key ? { KmsKeyId: key } : {}),
          // Tagged as it is made: a copy is the service's own from its first moment (so the
          // janitor finds it and IAM lets the service share it), with no window untagged.
          TagSpecifications: [
            { ResourceType: 'image', Tags: copyTags },
            { ResourceType: 'snapshot', Tags: copyTags },
          ],
        }),
      );
      return { kind: 'image-copied', region: action.region, imageId: copied.ImageId ?? '' };
    }
    case 'share-image': {
      const configuredPipeline = configured(pipeline, bake);
      const { accounts, organizationalUnits } = configuredPipeline.distribute;
      // The keys are checked, the snapshots shared and the target accounts' grants made before the
      // image is: an image no account can launch is never shared.
      await shareSnapshots(
        {
          ec2: clients.ec2In(action.region),
          kms: clients.kmsIn(action.region),
          kmsAs: (role) => clients.kmsIn(action.region, role),
        },
        {
          region: action.region,
          imageId: action.imageId,
          accounts,
          targets: targetAccountsIn(configuredPipeline, bake, action.region),
        },
      );
      await clients.ec2In(action.region).send(
        new ModifyImageAttributeCommand({
          ImageId: action.imageId,
          LaunchPermission: {
            Add: [
              ...accounts.map((UserId) => ({ UserId })),
              ...organizationalUnits.map((OrganizationalUnitArn) => ({ OrganizationalUnitArn })),
            ],
          },
        }),
      );
      return { kind: 'done' };
    }
    case 'publish': {
      const ssm = clients.ssmIn(action.region);
      await ssm.send(
        new PutParameterCommand({
          Name: action.parameter,
          Value: action.imageId,
          Type: 'String',
          DataType: 'aws:ec2:image',
          Overwrite: true,
        }),
      );
      await ssm.send(
        new AddTagsToResourceCommand({
          ResourceType: 'Parameter',
          ResourceId: action.parameter,
          Tags: tags.slice(0, 2),
        }),
      );
      return {
        kind: 'published',
        region: action.region,
        parameter: action.parameter,
        imageId: action.imageId,
      };
    }
    case 'create-template-version': {
      const made = await ensureRolloutVersion(at(clients, pipeline, bake, action).ec2, {
        templateId: action.templateId,
        sourceVersion: action.sourceVersion,
        imageId: action.imageId,
        bakeId: bake.id,
        makeDefault: action.makeDefault,
      });
      return {
        kind: 'template-versioned',
        group: action.group,
        ...where(action),
        templateId: action.templateId,
        version: made.version,
      };
    }
    case 'start-refresh':
      return startRefresh(
        at(clients, pipeline, bake, action).autoScaling,
        configured(pipeline, bake),
        action,
      );
    case 'cancel-refresh':
      try {
        await at(clients, pipeline, bake, action).autoScaling.send(
          new CancelInstanceRefreshCommand({ AutoScalingGroupName: action.group }),
        );
      } catch (error) {
        if (!isAwsError(error, 'ActiveInstanceRefreshNotFoundFault')) throw error; // already over
      }
      return { kind: 'done' };
    case 'restore-default-version': {
      const outcome = await housekeeping(() =>
        restoreDefaultVersion(at(clients, pipeline, bake, action).ec2, action),
      );
      return 'problem' in outcome
        ? {
            kind: 'default-restored',
            templateId: action.templateId,
            restored: false,
            problem: outcome.problem,
          }
        : { kind: 'default-restored', templateId: action.templateId, ...outcome.done };
    }
    case 'prune-template-versions': {
      const outcome = await housekeeping(() =>
        pruneRolloutVersions(at(clients, pipeline, bake, action), action.templateId, action.keep),
      );
      return 'problem' in outcome
        ? { kind: 'pruned', templateId: action.templateId, versions: [], problem: outcome.problem }
        : { kind: 'pruned', templateId: action.templateId, versions: outcome.done };
    }
  }
}

/**
 * Housekeeping (pruning old versions, putting a default back) never changes how a bake ends: a
 * refusal (say, a missing permission) is recorded as a problem; throttling and 5xx still retry.
 */
async function housekeeping<T>(work: () => Promise<T>): Promise<{ done: T } | { problem: string }> {
  try {
    return { done: await work() };
  } catch (error) {
    if (isTransient(error)) throw error;
    const { code, message } = describeError(error);
    return { problem: `${code}: ${message}` };
  }
}

/** A forward refresh's checkpoints, bake time and alarms: the pipeline's, with its wave's. */
function forward(
  refresh: NonNullable<Pipeline['rollout']>['refresh'] | undefined,
  action: Extract<Action, { kind: 'start-refresh' }>,
): Pick<RefreshPreferences, 'CheckpointPercentages' | 'CheckpointDelay' | 'BakeTime' | 'AlarmSpecification'> {
  const alarms = [...new Set([...(refresh?.alarms ?? []), ...(action.alarms ?? [])])];
  return {
    CheckpointPercentages: refresh?.checkpointPercentages,
    CheckpointDelay: refresh?.checkpointDelaySeconds,
    BakeTime: action.bakeTimeSeconds ?? refresh?.bakeTimeSeconds,
    ...(alarms.length > 0 ? { AlarmSpecification: { Alarms: alarms } } : {}),
  };
}

/** Starts the refresh to the bake's version; a refresh already holding the group is left to the next pass. */
async function startRefresh(
  autoScaling: Pick<AutoScalingClient, 'send'>,
  pipeline: Pipeline,
  action: Extract<Action, { kind: 'start-refresh' }>,
): Promise<ActionResult> {
  const refresh = pipeline.rollout?.refresh;
  try {
    const started = await autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: action.group,
        Strategy: 'Rolling',
        // An explicit version, never $Latest or $Default: auto rollback needs one to return to.
        DesiredConfiguration: {
          LaunchTemplate: { LaunchTemplateId: action.templateId, Version: String(action.version) },
        },
        Preferences: {
          MinHealthyPercentage: refresh?.minHealthyPercentage,
          MaxHealthyPercentage: refresh?.maxHealthyPercentage,
          InstanceWarmup: refresh?.instanceWarmupSeconds,
          SkipMatching: refresh?.skipMatching,
          AutoRollback: action.autoRollback,
          ScaleInProtectedInstances: refresh?.scaleInProtectedInstances,
          StandbyInstances: refresh?.standbyInstances,
          // Going back is not paused, baked or stopped by the alarms that caused it.
          ...(action.rollback ? {} : forward(refresh, action)),
        },
      }),
    );
    return {
      kind: 'refresh-started',
      group: action.group,
      ...where(action),
      refreshId: started.InstanceRefreshId ?? '',
      ...(action.rollback ? { rollback: true } : {}),
    };
  } catch (error) {
    // Another refresh holds the group: the next pass sees it and waits or cancels, by policy.
    if (isAwsError(error, 'InstanceRefreshInProgressFault')) return { kind: 'done' };
    throw error;
  }
}

/**
 * Carries out a decision's actions in order. A transient failure (throttling, 5xx, network)
 * is thrown, so the pass commits nothing and runs again; a final one (a 4xx) becomes a
 * `rejected` result that fails the bake with AWS's own words.
 */
export async function act(
  clients: ActClients,
  bake: BakeRecord,
  /** Absent for a bake whose pipeline was removed: only the actions that end things can run. */
  pipeline: Pipeline | undefined,
  actions: readonly Action[],
): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  let unshared = false;
  for (const action of actions) {
    // An image that could not be shared is never published: the pass's failure ends the bake.
    if (unshared && action.kind === 'publish') continue;
    try {
      results.push(await run(clients, bake, pipeline, action));
    } catch (error) {
      if (isTransient(error)) throw error;
      // A terminate of an instance that is already gone has nothing left to do.
      if (action.kind === 'terminate' && isAwsError(error, 'InvalidInstanceID.NotFound')) continue;
      const { code, message } = describeError(error);
      results.push({ kind: 'rejected', action: action.kind, code, message });
      if (action.kind === 'share-image') unshared = true;
    }
  }
  return results;
}
