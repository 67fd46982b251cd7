import {
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  type EC2Client,
  type LaunchTemplate,
} from '@aws-sdk/client-ec2';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandsCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { Pipeline } from '../pipeline/schema';
import type {
  BakeRecord,
  CommandStatus,
  Observed,
  ObservedCommand,
  ObservedGroup,
  ObservedImage,
  ObservedInstance,
  ObservedRefresh,
  RolloutTarget,
  Unreachable,
  StepStage,
} from './model';
import { parseCommandComment, TAG_BAKE_ID, TAG_ROLE, tagValue } from '../aws/tags';
import { describeError, isAwsError, isTransient } from '../errors';
import type { AssumedRole } from '../aws/regional';
import { currentWave, inWave, observedAt, roleFor, sameGroup, type GroupAt } from './waves';

/** The narrow slice of AWS a pass reads from. */
export interface ObserveClients {
  readonly autoScalingIn: (region: string, role?: AssumedRole) => Pick<AutoScalingClient, 'send'>;
  readonly ec2In: (region: string, role?: AssumedRole) => Pick<EC2Client, 'send'>;
  readonly ssm: Pick<SSMClient, 'send'>;
}

// Launching too: a pass can go from launching into provisioning and send the first step, and
// if it dies before committing, the next pass must find that command rather than send another.
const COMMAND_PHASES = new Set(['launching', 'provisioning', 'validating', 'testing']);
const IMAGELESS_PHASES = new Set(['requested', 'launching', 'provisioning', 'validating']);
const FINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
// Phases that read the target groups, and those that follow refreshes.
const REFRESH_PHASES: ReadonlySet<string> = new Set(['refreshing', 'rolling-back']);
const ROLLOUT_PHASES: ReadonlySet<string> = new Set(['rolling', ...REFRESH_PHASES]);
// EC2 accepts up to 200 values per filter; SSM's InstanceIds filter up to 50.
const EC2_FILTER_VALUES = 200;
const SSM_FILTER_VALUES = 50;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function instancesByBake(
  ec2: Pick<EC2Client, 'send'>,
  ids: string[],
): Promise<Map<string, ObservedInstance[]>> {
  const byBake = new Map<string, ObservedInstance[]>();
  for (const values of chunks(ids, EC2_FILTER_VALUES)) {
    let token: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: `tag:${TAG_BAKE_ID}`, Values: values }],
          NextToken: token,
        }),
      );
      for (const instance of page.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) {
        const bakeId = tagValue(instance.Tags, TAG_BAKE_ID) ?? '';
        const role = tagValue(instance.Tags, TAG_ROLE) === 'tester' ? 'tester' : 'builder';
        const list = byBake.get(bakeId) ?? [];
        list.push({ instanceId: instance.InstanceId ?? '', role, state: instance.State?.Name ?? 'unknown' });
        byBake.set(bakeId, list);
      }
      token = page.NextToken;
    } while (token);
  }
  return byBake;
}

async function imagesByBake(
  ec2: Pick<EC2Client, 'send'>,
  region: string,
  ids: string[],
): Promise<Map<string, ObservedImage[]>> {
  const byBake = new Map<string, ObservedImage[]>();
  for (const values of chunks(ids, EC2_FILTER_VALUES)) {
    const page = await ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: `tag:${TAG_BAKE_ID}`, Values: values }],
      }),
    );
    for (const image of page.Images ?? []) {
      const bakeId = tagValue(image.Tags, TAG_BAKE_ID) ?? '';
      const list = byBake.get(bakeId) ?? [];
      list.push({
        imageId: image.ImageId ?? '',
        name: image.Name ?? '',
        region,
        state: image.State ?? 'unknown',
        reason: image.StateReason?.Message,
      });
      byBake.set(bakeId, list);
    }
  }
  return byBake;
}

async function onlineAgents(ssm: Pick<SSMClient, 'send'>, instanceIds: string[]): Promise<Set<string>> {
  const online = new Set<string>();
  for (const values of chunks(instanceIds, SSM_FILTER_VALUES)) {
    let token: string | undefined;
    do {
      const page = await ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: values }],
          NextToken: token,
        }),
      );
      for (const info of page.InstanceInformationList ?? []) {
        if (info.PingStatus === 'Online' && info.InstanceId) online.add(info.InstanceId);
      }
      token = page.NextToken;
    } while (token);
  }
  return online;
}

/** Commands this bake sent to an instance, with the output of those that finished since the last pass. */
async function commandsOf(
  ssm: Pick<SSMClient, 'send'>,
  bake: BakeRecord,
  instanceId: string,
): Promise<ObservedCommand[]> {
  const listed = await ssm.send(new ListCommandsCommand({ InstanceId: instanceId }));
  const observed: ObservedCommand[] = [];
  for (const command of listed.Commands ?? []) {
    const origin = parseCommandComment(command.Comment);
    if (origin?.bakeId !== bake.id) continue;
    const status = (command.Status ?? 'Pending') as CommandStatus;
    const base = {
      commandId: command.CommandId ?? '',
      stage: origin.stage as StepStage,
      step: origin.step,
      status,
    };
    const recorded = bake.steps.find((s) => s.stage === base.stage && s.name === base.step);
    if (FINAL.has(status) && !(recorded && FINAL.has(recorded.status))) {
      const invocation = await ssm
        .send(new GetCommandInvocationCommand({ CommandId: base.commandId, InstanceId: instanceId }))
        .catch((error: unknown) => {
          // Right after SendCommand, GetCommandInvocation may not find the invocation yet
          // (InvocationDoesNotExist, API reference): the step is still running as far as we can read.
          if (isAwsError(error, 'InvocationDoesNotExist')) return undefined;
          throw error;
        });
      if (!invocation) {
        observed.push({ ...base, status: 'InProgress' });
        continue;
      }
      observed.push({
        ...base,
        status: (invocation.Status ?? status) as CommandStatus,
        exitCode: invocation.ResponseCode,
        stdout: invocation.StandardOutputContent,
        stderr: invocation.StandardErrorContent,
      });
    } else if (FINAL.has(status) && recorded) {
      observed.push({
        ...base,
        status: recorded.status as CommandStatus,
        exitCode: recorded.exitCode,
        stdout: recorded.outputTail,
        stderr: recorded.errorTail,
      });
    } else {
      observed.push(base);
    }
  }
  return observed;
}

// DescribeAutoScalingGroups takes up to 100 names; DescribeLaunchTemplates up to 200 ids.
const GROUP_NAMES = 100;

/**
 * The launch templates of these ids that exist. AWS fails the whole call when one is gone
 * (InvalidLaunchTemplateId.NotFound; a group can outlive its template): then each is asked alone,
 * and a group whose template is gone is seen without a version, so its target fails with why.
 */
async function templatesNamed(ec2: Pick<EC2Client, 'send'>, ids: string[]): Promise<LaunchTemplate[]> {
  try {
    return (
      (await ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: ids }))).LaunchTemplates ?? []
    );
  } catch (error) {
    if (!isAwsError(error, 'InvalidLaunchTemplateId.NotFound')) throw error;
    if (ids.length === 1) return [];
    const found: LaunchTemplate[] = [];
    for (const id of ids) found.push(...(await templatesNamed(ec2, [id])));
    return found;
  }
}

/** Where some bakes' target groups are read: a region, and a role when in another account. */
interface GroupsAt {
  readonly region: string;
  readonly account?: string;
  readonly role?: AssumedRole;
  /** The one bake whose role session reads it (another account's groups). */
  readonly bakeId?: string;
  readonly names: string[];
}

/**
 * The target groups of these bakes' rollouts, by place: one read per region of the service's own
 * account for every bake together; in another account, per bake, as each bake's own role session.
 */
function byPlace(
  bakes: readonly BakeRecord[],
  pipelines: ReadonlyMap<string, Pipeline>,
  home: string,
  /** Which of a bake's targets to read (default: every one). */
  followed: (bake: BakeRecord, target: RolloutTarget) => boolean = () => true,
): GroupsAt[] {
  const places = new Map<
    string,
    { region: string; account?: string; role?: AssumedRole; bakeId?: string; names: Set<string> }
  >();
  for (const bake of bakes) {
    for (const target of bake.rollout ?? []) {
      if (!followed(bake, target)) continue;
      const region = target.region ?? home;
      const key = target.account ? `${target.account}|${region}|${bake.id}` : region;
      let place = places.get(key);
      if (!place) {
        // A pipeline no longer configured names no role: its groups stay unread (decide fails the bake).
        const pipeline = pipelines.get(bake.pipeline);
        if (target.account && !pipeline?.rollout?.targetRole) continue;
        const role = roleFor(pipeline, bake, target.account);
        place = {
          region,
          ...(target.account ? { account: target.account } : {}),
          ...(role ? { role, bakeId: bake.id } : {}),
          names: new Set(),
        };
        places.set(key, place);
      }
      place.names.add(target.group);
    }
  }
  return [...places.values()].map((place) => ({ ...place, names: [...place.names] }));
}

/** The rollout target groups of the pass, with the template version each uses as a number. */
async function groupsNamed(clients: ObserveClients, home: string, at: GroupsAt): Promise<ObservedGroup[]> {
  const { region, names } = at;
  const groups: {
    name: string;
    templateId?: string;
    version: string;
    instances: { version: string; count: number }[];
  }[] = [];
  for (const batch of chunks(names, GROUP_NAMES)) {
    const page = await clients
      .autoScalingIn(region, at.role)
      .send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: batch }));
    for (const group of page.AutoScalingGroups ?? []) {
      const spec =
        group.LaunchTemplate ?? group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
      // Each instance says which template version it was launched from: a fleet a refresh left
      // half done shows as two versions.
      const counts = new Map<string, number>();
      for (const instance of group.Instances ?? []) {
        const version = instance.LaunchTemplate?.Version;
        if (version !== undefined) counts.set(version, (counts.get(version) ?? 0) + 1);
      }
      groups.push({
        name: group.AutoScalingGroupName ?? '',
        templateId: spec?.LaunchTemplateId,
        version: spec?.Version ?? '$Default',
        instances: [...counts]
          .map(([version, count]) => ({ version, count }))
          .sort((a, b) => Number(a.version) - Number(b.version)),
      });
    }
  }
  const templateIds = [...new Set(groups.flatMap((g) => (g.templateId ? [g.templateId] : [])))];
  const templates = new Map<string, { default?: number; latest?: number }>();
  for (const batch of chunks(templateIds, EC2_FILTER_VALUES)) {
    for (const t of await templatesNamed(clients.ec2In(region, at.role), batch)) {
      templates.set(t.LaunchTemplateId ?? '', {
        default: t.DefaultVersionNumber,
        latest: t.LatestVersionNumber,
      });
    }
  }
  return groups.map((g) => {
    const template = templates.get(g.templateId ?? '');
    const version =
      g.version === '$Latest'
        ? template?.latest
        : g.version === '$Default'
          ? template?.default
          : Number(g.version);
    return {
      name: g.name,
      ...placeFields(at, home),
      templateId: g.templateId,
      templateVersion: Number.isFinite(version) ? version : undefined,
      usesAlias: g.version === '$Latest' || g.version === '$Default',
      namedVersion: g.version,
      defaultVersion: template?.default,
      instances: g.instances,
    };
  });
}

/** The place fields of what was read at `at`, as its targets carry them (none for the bake's own). */
function placeFields(at: GroupsAt, home: string): { region?: string; account?: string } {
  return {
    ...(at.region !== home ? { region: at.region } : {}),
    ...(at.account ? { account: at.account } : {}),
  };
}

async function refreshesOf(clients: ObserveClients, home: string, at: GroupsAt): Promise<ObservedRefresh[]> {
  const found: ObservedRefresh[] = [];
  for (const group of at.names) {
    const page = await clients
      .autoScalingIn(at.region, at.role)
      .send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group, MaxRecords: 5 }));
    for (const refresh of page.InstanceRefreshes ?? []) {
      found.push({
        group,
        ...placeFields(at, home),
        id: refresh.InstanceRefreshId ?? '',
        desiredTemplateId: refresh.DesiredConfiguration?.LaunchTemplate?.LaunchTemplateId,
        desiredVersion: refresh.DesiredConfiguration?.LaunchTemplate?.Version,
        status: refresh.Status ?? 'Pending',
        percentage: refresh.PercentageComplete ?? 0,
        reason: refresh.StatusReason,
      });
    }
  }
  return found;
}

/**
 * Reads the AWS state of every bake in a pass, batched: one DescribeInstances and one
 * DescribeImages per region for all bakes together, one agent query, and a command listing
 * per instance that is running steps. Never trusts the record for what exists.
 */
export async function observe(
  bakes: readonly BakeRecord[],
  pipelines: ReadonlyMap<string, Pipeline>,
  clients: ObserveClients,
  now: Date,
): Promise<Map<string, Observed>> {
  const ids = bakes.map((bake) => bake.id);
  const home = bakes[0]?.region;
  const result = new Map<string, Observed>();
  if (!home) return result;

  const instances = await instancesByBake(clients.ec2In(home), ids);
  // No image can exist before CreateImage is asked for (stopping); finished bakes may still
  // have one to mark as failed.
  const imaging = bakes.filter((bake) => !IMAGELESS_PHASES.has(bake.phase)).map((bake) => bake.id);
  const images =
    imaging.length > 0
      ? await imagesByBake(clients.ec2In(home), home, imaging)
      : new Map<string, ObservedImage[]>();
  const copyRegions = new Set(
    bakes
      .filter((bake) => bake.phase === 'distributing' || bake.phase === 'publishing')
      .flatMap((bake) => pipelines.get(bake.pipeline)?.distribute.regions ?? []),
  );
  for (const region of copyRegions) {
    for (const [bakeId, found] of await imagesByBake(clients.ec2In(region), region, ids)) {
      images.set(bakeId, [...(images.get(bakeId) ?? []), ...found]);
    }
  }

  const waiting = bakes.filter(
    (bake) => bake.phase === 'launching' || bake.phase === 'testing' || COMMAND_PHASES.has(bake.phase),
  );
  const running = waiting.flatMap((bake) =>
    (instances.get(bake.id) ?? []).filter((i) => i.state === 'running').map((i) => i.instanceId),
  );
  const online = running.length > 0 ? await onlineAgents(clients.ssm, running) : new Set<string>();

  // Rollout targets by region (a target without one is in the home region): one read per region.
  const rolling = bakes.filter((bake) => ROLLOUT_PHASES.has(bake.phase));
  const groups: ObservedGroup[] = [];
  const unreachable = new Map<string, Unreachable[]>();
  /**
   * What `read` finds at `at`. Another account's refusal (the role's trust, its permissions)
   * fails that bake's targets there, not the pass: it is recorded as the account unreachable.
   */
  async function readAt<T>(at: GroupsAt, read: () => Promise<T[]>): Promise<T[]> {
    try {
      return await read();
    } catch (error) {
      if (!at.role || !at.bakeId || isTransient(error)) throw error;
      const { code, message } = describeError(error);
      const cut: Unreachable = {
        account: at.account ?? '',
        ...(at.region !== home ? { region: at.region } : {}),
        reason: `${code}: ${message}`,
      };
      const known = unreachable.get(at.bakeId) ?? [];
      if (!known.some((u) => u.account === cut.account && u.region === cut.region))
        unreachable.set(at.bakeId, [...known, cut]);
      return [];
    }
  }
  for (const at of byPlace(rolling, pipelines, home))
    groups.push(...(await readAt(at, () => groupsNamed(clients, home, at))));
  const refreshes: ObservedRefresh[] = [];
  const refreshing = bakes.filter((b) => REFRESH_PHASES.has(b.phase));
  // Refreshing follows the current wave's groups only (DescribeInstanceRefreshes takes one group
  // per call: a ten-wave rollout would read ten times what it uses); a rollback, every wave's.
  const followed = (bake: BakeRecord, target: RolloutTarget) =>
    bake.phase === 'rolling-back' || inWave(target, currentWave(bake));
  for (const at of byPlace(refreshing, pipelines, home, followed))
    refreshes.push(...(await readAt(at, () => refreshesOf(clients, home, at))));

  for (const bake of bakes) {
    const mine = instances.get(bake.id) ?? [];
    const commands: ObservedCommand[] = [];
    if (COMMAND_PHASES.has(bake.phase)) {
      const role = bake.phase === 'testing' ? 'tester' : 'builder';
      // Online agents, and instances already stopping or stopped: a pass that stopped the builder
      // may have died before recording the step it had seen finish; SSM still has the result.
      const answered = mine.filter(
        (i) =>
          i.role === role && (online.has(i.instanceId) || i.state === 'stopping' || i.state === 'stopped'),
      );
      for (const instance of answered) {
        commands.push(...(await commandsOf(clients.ssm, bake, instance.instanceId)));
      }
    }
    const targets = bake.rollout ?? [];
    const mineGroup = (g: GroupAt) => targets.some((t) => sameGroup(t, g));
    result.set(bake.id, {
      now,
      instances: mine,
      agentOnline: online,
      commands,
      images: images.get(bake.id) ?? [],
      // Only bakes rolling out had their groups looked at: for the others, "not observed" is not "not found".
      ...(rolling.includes(bake) ? { groups: groups.filter((g) => mineGroup(observedAt(g))) } : {}),
      ...(unreachable.has(bake.id) ? { unreachable: unreachable.get(bake.id) } : {}),
      ...(REFRESH_PHASES.has(bake.phase) ? { refreshes: refreshes.filter(mineGroup) } : {}),
    });
  }
  return result;
}
