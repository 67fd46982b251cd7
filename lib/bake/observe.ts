import { DescribeImagesCommand, DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
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
  ObservedImage,
  ObservedInstance,
  StepStage,
} from './model';
import { parseCommandComment, TAG_BAKE_ID, TAG_ROLE } from './tags';

/** The narrow slice of AWS a pass reads from. */
export interface ObserveClients {
  readonly ec2In: (region: string) => Pick<EC2Client, 'send'>;
  readonly ssm: Pick<SSMClient, 'send'>;
}

// Launching too: a pass can go from launching into provisioning and send the first step, and
// if it dies before committing, the next pass must find that command rather than send another.
const COMMAND_PHASES = new Set(['launching', 'provisioning', 'validating', 'testing']);
const IMAGELESS_PHASES = new Set(['requested', 'launching', 'provisioning', 'validating']);
const FINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
// EC2 accepts up to 200 values per filter; SSM's InstanceIds filter up to 50.
const EC2_FILTER_VALUES = 200;
const SSM_FILTER_VALUES = 50;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function tag(tags: { Key?: string; Value?: string }[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
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
        const bakeId = tag(instance.Tags, TAG_BAKE_ID) ?? '';
        const role = tag(instance.Tags, TAG_ROLE) === 'tester' ? 'tester' : 'builder';
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
      const bakeId = tag(image.Tags, TAG_BAKE_ID) ?? '';
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
      const invocation = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: base.commandId, InstanceId: instanceId }),
      );
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

  for (const bake of bakes) {
    const mine = instances.get(bake.id) ?? [];
    const commands: ObservedCommand[] = [];
    if (COMMAND_PHASES.has(bake.phase)) {
      const role = bake.phase === 'testing' ? 'tester' : 'builder';
      for (const instance of mine.filter((i) => i.role === role && online.has(i.instanceId))) {
        commands.push(...(await commandsOf(clients.ssm, bake, instance.instanceId)));
      }
    }
    result.set(bake.id, {
      now,
      instances: mine,
      agentOnline: online,
      commands,
      images: images.get(bake.id) ?? [],
    });
  }
  return result;
}
