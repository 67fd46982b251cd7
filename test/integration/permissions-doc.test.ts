import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { addLifecycleHooks, snsEvent } from '../../emulator/hooks';
import { renderPermissions, unusedGrants, type Unexercised } from '../../emulator/iam/permissions-doc';
import { packagedTemplate } from '../../emulator/iam/stack';
import { createSandbox } from '../../emulator/sandbox';
import { isTerminal } from '../../lib/bake/model';
import { serviceTags, TAG_ROLE } from '../../lib/aws/tags';
import { runNightly } from '../../lib/bake/nightly';
import { reconcile } from '../../lib/bake/service';
import { stepLifecycle } from '../../lib/lifecycle/engine';
import { handleLifecycleEvent } from '../../lib/lifecycle/handle';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { runJanitor } from '../../lib/retention/run';
import { apiFor } from '../support/api';
import { awsForTest, controlFor } from '../support/aws';
import { withShareableKeys } from '../support/keys';
import { bakeryForTest, type TestBakery } from '../support/bakery';

// Every function of the stack does its work once, each as its own packaged role, and the grants
// the emulator made are written down as docs/permissions.md (`npm run permissions` rewrites it).
const PAGE = new URL('../../docs/permissions.md', import.meta.url);
const COMMAND = 'npm run permissions';
const [web, minimal] = pipelines as [PipelineInput, PipelineInput];
const READINESS = 'curl -fsS localhost:3000/health';

/** Grants the scenario does not reach, each with why it stays. */
const UNEXERCISED: Unexercised = {
  reconcile: {
    'ec2:DescribeTags': 'finds the bake of an instance an event names before the record does',
    'ec2:CreateTags': 'marks an image failed (a failed test stage, a rejected rollout)',
    'ec2:DeleteLaunchTemplateVersions': 'prunes template versions beyond keepTemplateVersions (10)',
    'autoscaling:CancelInstanceRefresh':
      'cancels a refresh (whenRefreshInProgress: cancel, or a cancelled bake)',
    'autoscaling:RecordLifecycleActionHeartbeat':
      'keeps a check alive past half its hook’s heartbeat timeout',
    'ec2:DescribeInstanceStatus': 'readiness by EC2 status checks (this run checks readiness by a command)',
    'ssm:SendCommand':
      'starts a handed-over check whose command the lifecycle function did not send (it died first)',
    'sts:AssumeRole':
      'reaches a rollout target in another account through its target role (test/integration/rollout-accounts.test.ts)',
  },
  lifecycle: {
    'autoscaling:RecordLifecycleActionHeartbeat':
      'keeps a check alive past half its hook’s heartbeat timeout',
    'ec2:DescribeInstanceStatus': 'readiness by EC2 status checks (this run checks readiness by a command)',
    'dynamodb:GetItem': 'reads the record of a duplicate delivery',
    'sns:Publish': 'lifecycle.abandoned and lifecycle.drain-failed notifications',
  },
  nightly: {
    'dynamodb:GetItem': 'reads the pipeline lock when a scheduled pipeline is busy',
  },
};

type Aws = ReturnType<typeof awsForTest>;

/** Runs reconcile passes, delivers the hooks' notifications to the lifecycle function and steps
 * the actions handed to reconcile, until the bakes are over with their notifications out. */
async function drive(bakery: TestBakery, hooksQueue: string, aws: Aws, ids: string[]) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await reconcile(bakery, ids);
    const received = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: hooksQueue, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    for (const message of received.Messages ?? []) {
      const envelope = JSON.parse(message.Body ?? '{}') as { MessageId?: string; Message?: string };
      const text = envelope.Message ?? '';
      // Launch checks are handed to reconcile at once; drains are carried out by the lifecycle function.
      const bound = text.includes('EC2_INSTANCE_TERMINATING') ? 5 : 0;
      await handleLifecycleEvent(bakery.as('lifecycle'), snsEvent(envelope.MessageId ?? 'm', text), bound);
      await aws.sqs.send(
        new DeleteMessageCommand({ QueueUrl: hooksQueue, ReceiptHandle: message.ReceiptHandle }),
      );
    }
    for (const record of await bakery.lifecycles.inProgress()) await stepLifecycle(bakery, record);
    const stored = await Promise.all(ids.map((id) => bakery.store.get(id)));
    if (stored.every(({ bake, outbox }) => isTerminal(bake.phase) && outbox.length === 0)) return stored;
    if (Date.now() > deadline) throw new Error(`still ${stored.map((s) => s.bake.phase).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

it('docs/permissions.md is what the functions call, each allowed by its packaged role', async () => {
  const aws = awsForTest(import.meta.url);
  const control = controlFor(aws);
  const sandbox = await createSandbox(aws, {
    name: 'permissions',
    desiredCapacity: 1,
    groupName: 'web-fleet',
  });
  const fleet: PipelineInput = await withShareableKeys(aws, {
    ...web,
    distribute: { regions: ['eu-west-1'], accounts: ['111122223333'] },
    lifecycle: { readiness: { command: [READINESS] }, drain: { command: ['app-drain'] } },
    retention: { keep: 1, minAgeDays: 0 },
  });
  const bakery = await bakeryForTest(aws, sandbox, [fleet, minimal], { timerQueue: true });
  // A readiness check that outlives the lifecycle function's bound: it goes to reconcile's timers.
  await control.configure({
    timeScale: 0.002,
    ssmRules: [{ commandPattern: READINESS, status: 'Success', seconds: 0.3 }],
  });
  const hooks = await addLifecycleHooks(aws, 'web-fleet', {
    name: 'permissions',
    accountId: aws.accountId,
    control,
  });
  const call = apiFor(bakery.as('api'));
  const bakeOf = (result: { body: unknown }) => (result.body as { bake: { id: string } }).bake.id;

  // api, reconcile and lifecycle: two bakes of the fleet (copy, share, refresh through its hooks).
  const first = bakeOf(await call('POST', '/bakes', { body: { pipeline: 'web' } }));
  for (const [path, query] of [
    ['/bakes'],
    ['/bakes', { pipeline: 'web' }],
    [`/bakes/${first}`],
    ['/pipelines'],
  ] as const)
    expect((await call('GET', path, query ? { query } : {})).status).toBe(200);
  expect((await drive(bakery, hooks.queueUrl, aws, [first]))[0]?.bake.phase).toBe('succeeded');
  const second = bakeOf(await call('POST', '/bakes', { body: { pipeline: 'web', force: true } }));
  expect((await drive(bakery, hooks.queueUrl, aws, [second]))[0]?.bake.phase).toBe('succeeded');
  expect((await call('GET', '/retention/web')).status).toBe(200);
  const cancelled = bakeOf(await call('POST', '/bakes', { body: { pipeline: 'minimal' } }));
  expect((await call('POST', `/bakes/${cancelled}/cancel`)).status).toBe(202);
  await drive(bakery, hooks.queueUrl, aws, [cancelled]);
  // A manual rollout of the first image (the fleet runs the second).
  const firstImage = (await bakery.store.get(first)).bake.image?.imageId ?? '';
  const rollout = await call('POST', '/rollouts', { body: { pipeline: 'web', amiId: firstImage } });
  expect(rollout.status, JSON.stringify(rollout.body)).toBe(202);
  await drive(bakery, hooks.queueUrl, aws, [bakeOf(rollout)]);
  // nightly, then the janitor (a dry run first) over the first bake's image and a leaked builder.
  const [nightly] = await runNightly(bakery.as('nightly'));
  await drive(bakery, hooks.queueUrl, aws, nightly?.outcome === 'started' ? [nightly.bakeId] : []);
  const third = bakeOf(await call('POST', '/bakes', { body: { pipeline: 'web', force: true } }));
  await drive(bakery, hooks.queueUrl, aws, [third]);
  await aws.ec2.send(
    new RunInstancesCommand({
      ImageId: sandbox.baseImageId,
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: [...serviceTags('web', first), { Key: TAG_ROLE, Value: 'builder' }],
        },
      ],
    }),
  );
  await runJanitor(bakery.as('janitor'));
  const report = await runJanitor(bakery.as('janitor'));
  expect(report).toBeTruthy();

  expect(await control.denials()).toEqual([]);
  const grants = await control.grants();
  const template = await packagedTemplate();
  const expectedUnused = Object.fromEntries(
    Object.entries(UNEXERCISED).map(([fn, actions]) => [fn, Object.keys(actions).sort()]),
  );
  const unused = Object.fromEntries(
    Object.entries(unusedGrants(template, grants)).map(([fn, list]) => [
      fn,
      list.map((grant) => grant.action).sort(),
    ]),
  );
  // A grant no call uses is either listed above with its reason, or removed from the role.
  expect(unused).toEqual(expectedUnused);
  // As prettier keeps it (npm run lint checks docs/ too).
  const page = await format(renderPermissions(template, grants, UNEXERCISED, COMMAND), {
    ...(await resolveConfig(fileURLToPath(PAGE))),
    parser: 'markdown',
  });
  if (process.env.AMI_BAKERY_WRITE_PERMISSIONS) await writeFile(PAGE, page);
  expect(page, `docs/permissions.md is out of date: run ${COMMAND}`).toBe(await readFile(PAGE, 'utf8'));
}, 120_000);
