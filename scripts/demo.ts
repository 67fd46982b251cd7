/**
 * `npm run demo`: bake → roll → refresh of the `web` pipeline against the local emulator (or any
 * endpoint in AWS_ENDPOINT_URL), driven by the real reconcile handler through the same
 * three triggers as in AWS: events, its SQS timers and the sweep. Prints each phase as it
 * happens, then the AMI, the SSM parameter and the notifications. Exits 1 if the bake fails.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { EmulatorDelays } from '../emulator/control';
import { EmulatorStartError } from '../emulator/harness';
import { bakeryFromEnvironment } from '../lib/bake/container';
import { isTerminal, type BakeRecord } from '../lib/bake/model';
import { startBake } from '../lib/bake/service';
import type { Notification } from '../lib/notify/notifications';
import { lambdaContext, startLocalEnvironment, type LocalEnvironment } from './local/environment';
import { startLocalTriggers } from './local/triggers';

// Emulated AWS delays (seconds): long enough to see every phase, a few seconds in all.
const DELAYS: EmulatorDelays = {
  'ec2.instance.pending': 0.5,
  'ssm.agent.online': 0.3,
  'ssm.command.pending': 0.1,
  'ssm.command.in-progress': 0.2,
  'ec2.instance.stopping': 0.4,
  'ec2.image.pending': 0.8,
};
const PIPELINE = process.env.DEMO_PIPELINE ?? 'web';
const TIMEOUT_MS = 120_000;

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

async function main(): Promise<number> {
  say(`ami-bakery demo: bake "${PIPELINE}" against ${process.env.AWS_ENDPOINT_URL ?? 'a local emulator'}`);
  const local = await startLocalEnvironment('demo');
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  const { handler } = await import('../functions/reconcile');
  const invoke = (event: unknown) => handler(event, lambdaContext('ami-bakery-local-reconcile'));
  const triggers = await startLocalTriggers({
    invoke,
    sqs: local.aws.sqs,
    timerQueueUrl: local.timerQueueUrl,
    events: true,
    timers: true,
    sweepSeconds: 5,
  });
  try {
    if (local.control) {
      // timeScale: the refresh's 120 s warm-up takes 0.6 s.
      await local.control.configure({
        delays: DELAYS,
        eventsUrl: triggers.eventsUrl ?? null,
        timeScale: 0.005,
      });
      say(
        `${elapsed()}  emulator      ${local.endpoint} (delays on, events to ${triggers.eventsUrl ?? '-'})`,
      );
    }
    say(
      `${elapsed()}  sandbox       VPC ${local.sandbox.vpcId}, group ${local.sandbox.autoScalingGroupName}`,
    );
    const bakery = bakeryFromEnvironment({
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    });
    const bake = await startBake(bakery, PIPELINE, { reason: 'npm run demo' });
    say(`${elapsed()}  bake          ${bake.id} from ${bake.baseImageId}`);

    const notifications: Notification[] = [];
    let current: BakeRecord = bake;
    const progress = new Map<string, string>();
    while (!isTerminal(current.phase)) {
      if (Date.now() - started > TIMEOUT_MS)
        throw new Error(`bake still ${current.phase} after ${TIMEOUT_MS / 1000} s`);
      await drainNotifications(local, notifications);
      current = (await bakery.store.get(bake.id)).bake;
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
    say(`total          ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } finally {
    await triggers.stop();
    await local.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof EmulatorStartError ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
