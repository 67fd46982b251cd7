/**
 * `npm run bench` (lifecycle part): AWS calls per lifecycle action, and a burst of hook
 * notifications (BENCH_LIFECYCLE_BURST, default 1,000: rounds of 100 launches and 100 terminations
 * of a real group) drained by the lifecycle handler's work at a Lambda-like concurrency: all
 * completed? how long?
 */
import {
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { pipelines } from '../config/pipelines';
import { addLifecycleHooks, snsEvent } from '../emulator/hooks';
import { createBakery } from '../functions/bakery';
import type { Bakery } from '../lib/bake/service';
import { handleLifecycleEvent } from '../lib/lifecycle/handle';
import { LifecycleStore } from '../lib/lifecycle/store';
import { loadPipelines, PipelineCatalog } from '../lib/pipeline/catalog';
import type { PipelineInput } from '../lib/pipeline/schema';
import type { LocalEnvironment } from '../scripts/local/environment';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const CONCURRENCY = Number(process.env.BENCH_LIFECYCLE_CONCURRENCY ?? 20);
// 1,000 finishes since the emulator forgets terminated instances and reads tags by lookup (it did not before).
const BURST = Number(process.env.BENCH_LIFECYCLE_BURST ?? 1_000);
const ROUND = 100;

export interface LifecycleBench {
  readonly callsPerAction: {
    readonly check: string;
    readonly completion: number;
    readonly check_: number;
    readonly other: number;
  }[];
  readonly burst: {
    readonly notifications: number;
    readonly completed: number;
    readonly lost: number;
    readonly seconds: number;
    readonly perSecond: number;
  };
}

async function hooksQueue(local: LocalEnvironment, group: string): Promise<string> {
  const accountId = '123456789012';
  if (!local.control) throw new Error('the lifecycle benchmark needs the emulator extension');
  return (await addLifecycleHooks(local.aws, group, { name: group, accountId, control: local.control }))
    .queueUrl;
}

/** Hook notifications from the queue, as SNS-to-Lambda events (test notifications included). */
async function receive(
  local: LocalEnvironment,
  queueUrl: string,
): Promise<{ id: string; message: string }[]> {
  const answer = await local.aws.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  const messages = answer.Messages ?? [];
  if (messages.length > 0) {
    await local.aws.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
  return messages.map((m) => {
    const envelope = JSON.parse(m.Body ?? '{}') as { MessageId: string; Message: string };
    return { id: envelope.MessageId, message: envelope.Message };
  });
}

async function setCapacity(local: LocalEnvironment, group: string, capacity: number): Promise<void> {
  await local.aws.autoScaling.send(
    new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: capacity }),
  );
}

/** Handles `expected` action notifications at CONCURRENCY; returns how many were completed. */
async function drain(
  local: LocalEnvironment,
  bakery: Bakery,
  queueUrl: string,
  expected: number,
  deadline: number,
): Promise<number> {
  let completed = 0;
  let seen = 0;
  const workers: Promise<void>[] = [];
  const backlog: { id: string; message: string }[] = [];
  let done = false;
  const worker = async () => {
    while (!done || backlog.length > 0) {
      const next = backlog.shift();
      if (!next) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      const results = await handleLifecycleEvent(bakery, snsEvent(next.id, next.message), 5);
      completed += results.filter((r) => r.kind === 'action' && r.outcome === 'completed').length;
    }
  };
  for (let i = 0; i < CONCURRENCY; i += 1) workers.push(worker());
  while (seen < expected && Date.now() < deadline) {
    const batch = (await receive(local, queueUrl)).filter((m) => !m.message.includes('TEST_NOTIFICATION'));
    seen += batch.length;
    backlog.push(...batch);
  }
  done = true;
  await Promise.all(workers);
  return completed;
}

export async function benchLifecycle(local: LocalEnvironment): Promise<LifecycleBench> {
  const builderProfile = process.env.BUILDER_INSTANCE_PROFILE;
  // The benchmark's own view of the open actions (the admin's; the lifecycle role reads no index).
  const actions = new LifecycleStore(local.aws.documents, local.tableName);
  const group = local.sandbox.autoScalingGroupName;
  const base = pipelines.find((p) => p.name === 'web');
  if (!base) throw new Error('no web pipeline');
  const configs: [string, PipelineInput['lifecycle']][] = [
    ['none (CONTINUE at once)', {}],
    ['EC2 status checks', { readiness: { ec2StatusChecks: true } }],
    ['SSM readiness command', { readiness: { command: ['curl -fsS localhost:3000/health'] } }],
  ];
  const queueUrl = await hooksQueue(local, group);
  await local.control?.configure({
    timeScale: 0.001,
    // Every delay the checks meet, set here: the bake benchmark before this one leaves its own.
    delays: {
      'ec2.instance.pending': 0,
      'ssm.agent.online': 0.2,
      'ssm.command.pending': 0.1,
      'ssm.command.in-progress': 0.3,
      'ec2.instance.shutting-down': 0,
    },
  });
  await receive(local, queueUrl); // the hooks' test notifications

  const callsPerAction: LifecycleBench['callsPerAction'][number][] = [];
  let capacity =
    (
      await local.aws.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
      )
    ).AutoScalingGroups?.[0]?.DesiredCapacity ?? 2;
  await local.aws.autoScaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: group,
      MinSize: 0,
      MaxSize: ROUND + capacity + configs.length,
    }),
  );
  for (const [check, lifecycle] of configs) {
    const bakery: Bakery = {
      ...createBakery(quiet, process.env, { clientOptions: local.clientOptions('lifecycle') }),
      catalog: new PipelineCatalog(
        loadPipelines([{ ...base, ...(lifecycle ? { lifecycle } : {}) }], { builderProfile }),
      ),
    };
    await local.control?.resetCalls();
    capacity += 1;
    await setCapacity(local, group, capacity);
    await drain(local, bakery, queueUrl, 1, Date.now() + 30_000);
    const calls: Record<string, Record<string, number>> = (await local.control?.calls())?.calls ?? {};
    const count = (service: string, actions: string[]) =>
      actions.reduce((n, a) => n + (calls[service]?.[a] ?? 0), 0);
    const completion = count('autoscaling', ['CompleteLifecycleAction']);
    const checkCalls =
      count('ec2', ['DescribeInstanceStatus']) +
      count('ssm', ['DescribeInstanceInformation', 'SendCommand', 'GetCommandInvocation']);
    const other = count('autoscaling', ['RecordLifecycleActionHeartbeat', 'DescribeLifecycleHooks']);
    callsPerAction.push({ check, completion, check_: checkCalls, other });
  }

  // The burst: no check (the check's own cost is measured above), in rounds of ROUND launches then
  // as many terminations (the sandbox subnets hold a few hundred addresses, as real ones would).
  const bakery: Bakery = {
    ...createBakery(quiet, process.env, { clientOptions: local.clientOptions('lifecycle') }),
    catalog: new PipelineCatalog(loadPipelines([base], { builderProfile })),
  };
  const openBefore = (await actions.inProgress()).length;
  const started = Date.now();
  let completed = 0;
  for (let round = 0; round < BURST / (2 * ROUND); round += 1) {
    await setCapacity(local, group, capacity + ROUND);
    completed += await drain(local, bakery, queueUrl, ROUND, Date.now() + 300_000);
    await setCapacity(local, group, capacity);
    completed += await drain(local, bakery, queueUrl, ROUND, Date.now() + 300_000);
  }
  const seconds = (Date.now() - started) / 1000;
  const open = await actions.inProgress();
  return {
    callsPerAction,
    burst: {
      notifications: BURST,
      completed,
      // Neither completed nor still open (handed over to timers, which this benchmark does not run).
      lost: BURST - completed - (open.length - openBefore),
      seconds,
      perSecond: BURST / seconds,
    },
  };
}
