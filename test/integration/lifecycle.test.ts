import {
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { ListCommandsCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { addLifecycleHooks, snsEvent } from '../../emulator/hooks';
import { createSandbox, describeGroup } from '../../emulator/sandbox';
import { parseTrigger } from '../../lib/triggers/parse';
import { wake } from '../../lib/triggers/wake';
import { handleLifecycleEvent } from '../../lib/lifecycle/handle';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { awsForTest, controlFor, type TestAws } from '../support/aws';
import { bakeryForTest, type TestBakery } from '../support/bakery';
import { receiveNotifications } from '../support/notifications';

// Lifecycle hooks delivered by SNS: readiness on launch, drain on terminate.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];

function fleet(group: string, lifecycle: PipelineInput['lifecycle']): PipelineInput {
  return {
    ...minimal,
    name: 'fleet',
    publish: { parameter: '/ami-bakery/fleet/latest' },
    rollout: { targets: [{ autoScalingGroup: group }] },
    ...(lifecycle ? { lifecycle } : {}),
  };
}

const READY = {
  readiness: { command: ['curl -fsS localhost:3000/health'] },
  drain: { command: ['app-drain --flush-logs'] },
};

interface Setup {
  aws: TestAws;
  bakery: TestBakery;
  group: string;
  hooksQueue: string;
  notificationsQueue: string;
}

/** A group with launch and terminate hooks notifying their own topic, and a queue to read it from. */
async function setUp(
  key: string,
  lifecycle: PipelineInput['lifecycle'],
  options: { heartbeat?: number; timeScale?: number; clockScale?: number } = {},
): Promise<Setup> {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name: key, desiredCapacity: 1 });
  const group = sandbox.autoScalingGroupName;
  const started = Date.now();
  const scale = options.clockScale ?? 1;
  const bakery = await bakeryForTest(
    aws,
    sandbox,
    [fleet(group, lifecycle)],
    () => new Date(started + (Date.now() - started) * scale),
  );
  await controlFor(aws).configure({ timeScale: options.timeScale ?? 0.002 });
  const hooks = await addLifecycleHooks(aws, group, {
    name: key,
    accountId: aws.accountId,
    control: controlFor(aws),
    heartbeatTimeout: options.heartbeat ?? 3600,
  });
  // Auto Scaling sends each new hook's target a test notification: read them out of the way.
  const tests = await receiveNotifications(aws, hooks.queueUrl, { count: 2, timeoutMs: 3_000 });
  expect(tests.map((t) => (t.message as { Event?: string }).Event)).toEqual([
    'autoscaling:TEST_NOTIFICATION',
    'autoscaling:TEST_NOTIFICATION',
  ]);
  return { aws, bakery, group, hooksQueue: hooks.queueUrl, notificationsQueue: sandbox.queueUrl };
}

/** Delivers the hook messages waiting in the queue to the lifecycle handler, `parallel` at a time. */
async function pump(setup: Setup, { count = 1, timeoutMs = 5_000, bound = 5, parallel = 1 } = {}) {
  const messages = await receiveNotifications(setup.aws, setup.hooksQueue, { count, timeoutMs });
  const results = [];
  for (let i = 0; i < messages.length; i += parallel) {
    const batch = messages.slice(i, i + parallel);
    results.push(
      ...(
        await Promise.all(
          batch.map((m, j) =>
            handleLifecycleEvent(
              setup.bakery.as('lifecycle'),
              snsEvent(`m-${i + j}`, JSON.stringify(m.message)),
              bound,
            ),
          ),
        )
      ).flat(),
    );
  }
  return { messages, results };
}

/** Retries an assertion until it holds (the emulator moves on its own clock). */
async function settles(assertion: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function states(aws: TestAws, group: string) {
  return ((await describeGroup(aws, group)).Instances ?? []).map((i) => i.LifecycleState ?? '');
}

/** Empties the group: its instance terminates, and the terminate hook fires. */
async function scaleToZero(aws: TestAws, group: string): Promise<void> {
  await aws.autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MinSize: 0 }));
  await aws.autoScaling.send(
    new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 0 }),
  );
}

describe('a launch hook', () => {
  it('holds the new instance until the readiness check passes, then CONTINUE puts it in service', async () => {
    const setup = await setUp('launch', READY);
    const { aws, group } = setup;
    // The check's invocation is not found for a moment after SendCommand, as on AWS.
    await controlFor(aws).configure({ delays: { 'ssm.invocation.visible': 0.3 } });
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 2 }),
    );

    const waiting = await states(aws, group);
    const { results } = await pump(setup);

    expect(waiting.sort()).toEqual(['InService', 'Pending:Wait']);
    expect(results).toEqual([expect.objectContaining({ outcome: 'completed', detail: 'ready' })]);
    await settles(async () => {
      expect(await states(aws, group)).toEqual(['InService', 'InService']);
    });
  });

  it('abandons an instance that fails its readiness check; the group replaces it and it is notified', async () => {
    const setup = await setUp('abandon', READY);
    const { aws, group } = setup;
    const control = controlFor(aws);
    await control.configure({
      ssmRules: [
        {
          commandPattern: 'localhost:3000/health',
          status: 'Failed',
          exitCode: 7,
          stderr: 'connection refused',
        },
      ],
    });
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 2 }),
    );

    const first = await pump(setup);
    const abandoned = (first.messages[0]?.message as { EC2InstanceId: string }).EC2InstanceId;
    await control.configure({ ssmRules: [] });
    const second = await pump(setup, { timeoutMs: 10_000 });

    expect(first.results).toEqual([expect.objectContaining({ outcome: 'completed', detail: 'not-ready' })]);
    expect(second.results).toEqual([expect.objectContaining({ outcome: 'completed', detail: 'ready' })]);
    await settles(async () => {
      const instances = (await describeGroup(aws, group)).Instances ?? [];
      expect(instances.map((i) => i.InstanceId)).not.toContain(abandoned);
      expect(instances.map((i) => i.LifecycleState)).toEqual(['InService', 'InService']);
    });
    const notes = await receiveNotifications(aws, setup.notificationsQueue, { count: 1 });
    expect(notes[0]?.attributes.type).toBe('lifecycle.abandoned');
    expect(notes[0]?.message).toMatchObject({
      instanceId: abandoned,
      detail: { reason: expect.stringContaining('connection refused') as unknown },
    });
  });
});

describe('a terminate hook', () => {
  it('sends the drain command, then CONTINUE lets the instance go', async () => {
    const setup = await setUp('drain', READY);
    const { aws, group } = setup;
    const leaving = (await describeGroup(aws, group)).Instances?.[0]?.InstanceId ?? '';
    await scaleToZero(aws, group);

    const held = await states(aws, group);
    const { results } = await pump(setup);

    expect(held).toEqual(['Terminating:Wait']);
    expect(results).toEqual([
      expect.objectContaining({ outcome: 'completed', detail: 'drained', instanceId: leaving }),
    ]);
    const commands = await aws.ssm.send(new ListCommandsCommand({ InstanceId: leaving }));
    expect(commands.Commands?.map((c) => c.Parameters?.commands)).toEqual([['app-drain --flush-logs']]);
    await settles(async () => {
      expect(await states(aws, group)).toEqual([]);
    });
  });

  it('still lets the instance go when the drain fails, and says so', async () => {
    const setup = await setUp('drain-fails', READY);
    const { aws, group } = setup;
    await controlFor(aws).configure({
      ssmRules: [{ commandPattern: 'app-drain', status: 'Failed', exitCode: 1 }],
    });
    await scaleToZero(aws, group);

    const { results } = await pump(setup);

    expect(results).toEqual([expect.objectContaining({ outcome: 'completed', detail: 'drain-failed' })]);
    await settles(async () => {
      expect(await states(aws, group)).toEqual([]);
    });
    const notes = await receiveNotifications(aws, setup.notificationsQueue, { count: 1 });
    expect(notes[0]?.attributes.type).toBe('lifecycle.drain-failed');
  });
});

describe('a check that never answers', () => {
  // The service's clock runs 50x: a 10 s check timeout passes in 0.2 s, while the command itself
  // stays InProgress for a minute (the emulator's rule is in real seconds).
  const hung = (transition: 'readiness' | 'drain') =>
    transition === 'readiness'
      ? { readiness: { command: ['hung-health-check'], timeoutSeconds: 10 } }
      : { drain: { command: ['hung-drain'], timeoutSeconds: 10 } };

  it('at launch: ABANDONs the instance (timed-out), never lets it into service', async () => {
    const setup = await setUp('hung-launch', hung('readiness'), { clockScale: 50 });
    const { aws, group, bakery } = setup;
    await controlFor(aws).configure({
      ssmRules: [{ commandPattern: 'hung-health-check', status: 'Success', seconds: 60 }],
    });
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 2 }),
    );

    const { messages, results } = await pump(setup);
    const launched = (messages[0]?.message as { EC2InstanceId: string }).EC2InstanceId;

    expect(results).toEqual([expect.objectContaining({ outcome: 'completed', detail: 'timed-out' })]);
    expect(await bakery.lifecycles.get(results[0]?.token ?? '')).toMatchObject({
      result: 'ABANDON',
      reason: 'No answer within 10 s',
    });
    await settles(async () => {
      const instances = (await describeGroup(aws, group)).Instances ?? [];
      expect(instances.map((i) => i.InstanceId)).not.toContain(launched);
    });
  });

  it('at termination: lets the instance go anyway (CONTINUE) and says the drain failed', async () => {
    const setup = await setUp('hung-drain', hung('drain'), { clockScale: 50 });
    const { aws, group, bakery } = setup;
    await controlFor(aws).configure({
      ssmRules: [{ commandPattern: 'hung-drain', status: 'Success', seconds: 60 }],
    });
    await scaleToZero(aws, group);

    const { results } = await pump(setup);

    expect(results).toEqual([expect.objectContaining({ outcome: 'completed', detail: 'drain-failed' })]);
    expect(await bakery.lifecycles.get(results[0]?.token ?? '')).toMatchObject({
      result: 'CONTINUE',
      reason: 'No answer within 10 s',
    });
    await settles(async () => {
      expect(await states(aws, group)).toEqual([]);
    });
  });
});

describe('delivery', () => {
  it('treats a duplicate as harmless, acknowledges the test message, drops garbage, and never retries an expired token', async () => {
    const setup = await setUp('delivery', {});
    const { aws, group, bakery } = setup;
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 2 }),
    );
    const [hook] = await receiveNotifications(aws, setup.hooksQueue, { count: 1 });
    const text = JSON.stringify(hook?.message);
    const control = controlFor(aws);
    await control.resetCalls();

    const first = await handleLifecycleEvent(bakery.as('lifecycle'), snsEvent('a', text), 5);
    const duplicate = await handleLifecycleEvent(bakery.as('lifecycle'), snsEvent('b', text), 5);
    const test = await handleLifecycleEvent(
      bakery,
      snsEvent('c', JSON.stringify({ Event: 'autoscaling:TEST_NOTIFICATION', AutoScalingGroupName: group })),
      5,
    );
    const garbled = await handleLifecycleEvent(
      bakery.as('lifecycle'),
      snsEvent('d', '{"LifecycleTransition": 42'),
      5,
    );
    const expired = await handleLifecycleEvent(
      bakery,
      snsEvent(
        'e',
        JSON.stringify({
          ...(hook?.message as object),
          LifecycleActionToken: 'f0f0f0f0-0000-4000-8000-000000000000',
        }),
      ),
      5,
    );
    const { calls } = await control.calls();

    expect(first).toEqual([expect.objectContaining({ outcome: 'completed', detail: 'no-check' })]);
    expect(duplicate).toEqual([expect.objectContaining({ outcome: 'duplicate' })]);
    expect(test).toEqual([expect.objectContaining({ kind: 'test', outcome: 'acknowledged' })]);
    expect(garbled).toEqual([expect.objectContaining({ kind: 'garbled', outcome: 'dropped' })]);
    expect(expired).toEqual([expect.objectContaining({ outcome: 'completed' })]);
    const record = await bakery.lifecycles.get('f0f0f0f0-0000-4000-8000-000000000000');
    expect(record).toMatchObject({
      status: 'completed',
      reason: expect.stringMatching(/No active lifecycle action/i) as unknown,
    });
    // One completion per action (the first and the expired one), none for the duplicate: at most 2 calls per action.
    expect(calls.autoscaling?.CompleteLifecycleAction).toBe(2);
    await settles(async () => {
      expect(await states(aws, group)).toEqual(['InService', 'InService']);
    });
  });
});

describe('throttling', () => {
  it('fails the delivery (so SNS retries it), and the retry completes the action once', async () => {
    // The SDK's backoff takes seconds: a hook timeout of 72 s (3600 s at this time scale) outlasts it.
    const setup = await setUp('throttled', {}, { timeScale: 0.02 });
    const { aws, group, bakery } = setup;
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 2 }),
    );
    const [hook] = await receiveNotifications(aws, setup.hooksQueue, { count: 1 });
    const event = snsEvent('t', JSON.stringify(hook?.message));
    const control = controlFor(aws);
    // Every attempt the SDK makes of the first delivery is throttled.
    await control.setFaults([
      {
        kind: 'throttle',
        service: 'autoscaling',
        action: 'CompleteLifecycleAction',
        probability: 1,
        count: 5,
      },
    ]);

    await expect(handleLifecycleEvent(bakery.as('lifecycle'), event, 5)).rejects.toMatchObject({
      name: 'Throttling',
    });
    await control.clearFaults();
    const retried = await handleLifecycleEvent(bakery.as('lifecycle'), event, 5);

    expect(retried).toEqual([expect.objectContaining({ outcome: 'completed', detail: 'no-check' })]);
    expect((await bakery.lifecycles.get(retried[0]?.token ?? '')).reason).toBeUndefined();
    await settles(async () => {
      expect(await states(aws, group)).toEqual(['InService', 'InService']);
    });
  });
});

describe('a check that outlives the short bound', () => {
  it('is handed to reconcile, kept alive with heartbeats, and completed there', async () => {
    // Emulated time runs 50x: a 60 s heartbeat timeout lasts 1.2 s (a 3 s check needs heartbeats,
    // and a loaded 2-core CI still gets each in time); the service's clock runs as fast.
    const setup = await setUp(
      'slow',
      { readiness: { command: ['slow-health-check'], timeoutSeconds: 3_000 } },
      { heartbeat: 60, timeScale: 0.02, clockScale: 50 },
    );
    const { aws, group, bakery } = setup;
    await controlFor(aws).configure({
      ssmRules: [{ commandPattern: 'slow-health-check', status: 'Success', seconds: 3 }],
    });
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 2 }),
    );

    const { results } = await pump(setup, { bound: 0.2 });
    const token = results[0]?.token ?? '';
    for (let i = 0; i < 400; i += 1) {
      const record = await bakery.lifecycles.get(token);
      if (record.status === 'completed') break;
      const timer = {
        Records: [
          { messageId: `t-${i}`, body: JSON.stringify({ lifecycle: token }), eventSource: 'aws:sqs' },
        ],
      };
      await wake(bakery, parseTrigger(timer));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    expect(results).toEqual([expect.objectContaining({ outcome: 'handed-over' })]);
    expect(bakery.scheduler.lifecycles.map((l) => l.token)).toContain(token);
    const record = await bakery.lifecycles.get(token);
    expect(record).toMatchObject({ status: 'completed', outcome: 'ready', result: 'CONTINUE' });
    expect(record.heartbeats).toBeGreaterThan(0);
    await settles(async () => {
      expect(await states(aws, group)).toEqual(['InService', 'InService']);
    });
  });
});

describe('a burst', () => {
  it('of 200 lifecycle notifications: every one completed, none lost', async () => {
    const setup = await setUp('burst', {});
    const { aws, group, bakery } = setup;
    await aws.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MinSize: 0, MaxSize: 101 }),
    );
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 101 }),
    );
    const up = await pump(setup, { count: 100, timeoutMs: 30_000, parallel: 10 });
    await settles(async () => {
      expect((await states(aws, group)).filter((s) => s === 'InService')).toHaveLength(101);
    }, 30_000);
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: 1 }),
    );
    const down = await pump(setup, { count: 100, timeoutMs: 30_000, parallel: 10 });

    const results = [...up.results, ...down.results];
    expect(results).toHaveLength(200);
    expect(results.filter((r) => r.outcome === 'completed')).toHaveLength(200);
    expect(new Set(results.map((r) => r.token)).size).toBe(200);
    await settles(async () => {
      expect(await states(aws, group)).toEqual(['InService']);
    }, 30_000);
    const groups = await aws.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
    );
    expect(groups.AutoScalingGroups?.[0]?.Instances).toHaveLength(1);
    expect(await bakery.lifecycles.inProgress()).toEqual([]);
  }, 120_000);
});
