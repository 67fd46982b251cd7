/**
 * `npm run demo`: bake → roll → refresh of the `web` pipeline against the local emulator (or any
 * endpoint in AWS_ENDPOINT_URL). The bake is asked for over the local HTTP API (the real api
 * handler) and driven by the real reconcile handler through the same three triggers as in AWS:
 * events, its SQS timers and the sweep. Prints each phase as it happens, then the AMI, the SSM
 * parameter and the notifications. Exits 1 if the bake fails.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, DeleteQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { EmulatorDelays } from '../emulator/control';
import { EmulatorStartError } from '../emulator/harness';
import { destroySandbox } from '../emulator/sandbox';
import { isTerminal, type BakeRecord } from '../lib/bake/model';
import type { Notification } from '../lib/notify/notifications';
import type { LocalEnvironment } from './local/environment';
import { startLocalStack } from './local/stack';

// Emulated AWS delays (seconds): long enough to see every phase, a few seconds in all.
const DELAYS: EmulatorDelays = {
  'ec2.instance.pending': 0.5,
  'ssm.agent.online': 0.3,
  'ssm.command.pending': 0.1,
  'ssm.command.in-progress': 0.2,
  'ssm.invocation.visible': 0.1,
  'ec2.instance.stopping': 0.4,
  'ec2.image.pending': 0.8,
};
const PIPELINE = process.env.DEMO_PIPELINE ?? 'web';
const TIMEOUT_MS = 120_000;
const CLEANUP = process.argv.includes('--cleanup') || process.env.DEMO_CLEANUP === '1';

const started = Date.now();
const elapsed = () => `+${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const say = (line: string) => process.stdout.write(`${line}\n`);

async function drainNotifications(local: LocalEnvironment, seen: Notification[]): Promise<void> {
  const received = await local.aws.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: local.sandbox.queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
    }),
  );
  const messages = received.Messages ?? [];
  for (const message of messages) {
    const notification = JSON.parse(
      (JSON.parse(message.Body ?? '{}') as { Message: string }).Message,
    ) as Notification;
    seen.push(notification);
    const what =
      notification.type === 'bake.phase' ? notification.phase : notification.type.replace('bake.', '');
    say(`${elapsed()}  ${what.padEnd(13)} ${notification.subject}`);
  }
  if (messages.length > 0) {
    await local.aws.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: local.sandbox.queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

/** One API call; a refusal ends the demo with the API's own problem detail. */
async function apiCall(method: string, url: string, body?: unknown): Promise<BakeRecord> {
  const response = await fetch(url, {
    method,
    ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const answer = (await response.json()) as { bake?: BakeRecord; title?: string; detail?: string };
  if (!response.ok || !answer.bake) {
    throw new Error(`${method} ${url}: ${response.status} ${answer.title ?? ''} ${answer.detail ?? ''}`);
  }
  return answer.bake;
}

async function main(): Promise<number> {
  say(`ami-bakery demo: bake "${PIPELINE}" against ${process.env.AWS_ENDPOINT_URL ?? 'a local emulator'}`);
  // timeScale: the refresh's 120 s warm-up takes 0.6 s.
  const stack = await startLocalStack('demo', { delays: DELAYS, timeScale: 0.005 });
  const { local, triggers, api } = stack;
  try {
    if (local.control) {
      say(
        `${elapsed()}  emulator      ${local.endpoint} (delays on, events to ${triggers.eventsUrl ?? '-'})`,
      );
    }
    say(`${elapsed()}  api           ${api.url} (the api handler, as in Lambda)`);
    say(
      `${elapsed()}  sandbox       VPC ${local.sandbox.vpcId}, group ${local.sandbox.autoScalingGroupName}`,
    );
    const bake = await apiCall('POST', `${api.url}/bakes`, { pipeline: PIPELINE, reason: 'npm run demo' });
    say(`${elapsed()}  bake          ${bake.id} from ${bake.baseImageId} (POST /bakes: 202)`);

    const notifications: Notification[] = [];
    let current: BakeRecord = bake;
    const progress = new Map<string, string>();
    while (!isTerminal(current.phase)) {
      if (Date.now() - started > TIMEOUT_MS)
        throw new Error(`bake still ${current.phase} after ${TIMEOUT_MS / 1000} s`);
      await drainNotifications(local, notifications);
      current = await apiCall('GET', `${api.url}/bakes/${bake.id}`);
      for (const target of current.rollout ?? []) {
        const line = `${target.status}${target.percentage !== undefined ? ` ${target.percentage}%` : ''}`;
        if (target.status !== 'pending' && progress.get(target.group) !== line) {
          progress.set(target.group, line);
          say(
            `${elapsed()}  refresh       ${target.group}: v${target.sourceVersion ?? '?'} -> v${target.version ?? '?'} ${line}`,
          );
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    await drainNotifications(local, notifications);

    say('');
    if (current.phase !== 'succeeded') {
      say(`bake ${current.phase}: ${current.failure?.code ?? ''} ${current.failure?.message ?? ''}`);
      if (current.failure?.output) say(current.failure.output);
      return 1;
    }
    const parameter = await local.aws.ssm.send(
      new GetParameterCommand({ Name: current.published[0]?.parameter ?? '' }),
    );
    say(`AMI            ${current.image?.imageId ?? '?'} (${current.image?.name ?? ''})`);
    say(`SSM parameter  ${parameter.Parameter?.Name ?? '?'} = ${parameter.Parameter?.Value ?? '?'}`);
    say(`steps          ${current.steps.map((s) => `${s.stage}/${s.name}: ${s.status}`).join(', ')}`);
    for (const target of current.rollout ?? []) {
      say(`rollout        ${target.group}: launch template v${target.version ?? '?'}, ${target.status}`);
    }
    say(
      `notifications  ${notifications.length} (${[...new Set(notifications.map((n) => n.type))].join(', ')})`,
    );
    say(
      `triggers       ${triggers.counts.events} events, ${triggers.counts.timers} timers, ${triggers.counts.sweeps} sweeps`,
    );
    // Each function ran as its own packaged role; the emulator refused what AWS would refuse.
    const denials = (await local.control?.denials()) ?? [];
    if (local.control) say(`IAM            each function as its own role; ${denials.length} call(s) denied`);
    for (const d of denials) say(`               denied ${d.label}: ${d.action} on ${d.resource}`);
    say(`total          ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return denials.length > 0 ? 1 : 0;
  } finally {
    if (CLEANUP)
      await cleanUp(local).catch((error: unknown) => {
        say(`cleanup failed: ${String(error)}`);
      });
    await stack.stop();
  }
}

/** `--cleanup`: removes what the demo made, in AWS's dependency order (worth it against a real endpoint). */
async function cleanUp(local: LocalEnvironment): Promise<void> {
  say('');
  for (const [kind, id] of await destroySandbox(local.aws, local.sandbox))
    say(`removed        ${kind} ${id}`);
  await local.aws.dynamodb.send(new DeleteTableCommand({ TableName: local.tableName }));
  await local.aws.sqs.send(new DeleteQueueCommand({ QueueUrl: local.timerQueueUrl }));
  say(`removed        bakes table ${local.tableName}, timer queue`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof EmulatorStartError ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
