import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import amiEvent from '../../events/ec2-ami-state-change.json';
import instanceEvent from '../../events/ec2-instance-state-change.json';
import sweepEvent from '../../events/scheduled-sweep.json';
import timerEvent from '../../events/sqs-timer.json';
import { bundleFunction } from '../../build/bundle';
import { createSandbox } from '../../emulator/sandbox';
import { createBakery } from '../../functions/bakery';
import { crossAccount } from '../../lib/aws/cross-account';
import { isTerminal } from '../../lib/bake/model';
import { startBake, type Bakery } from '../../lib/bake/service';
import { awsForDefaultAccount, controlFor } from '../support/aws';
import { handlerEnvironment, quietLog } from '../support/bakery';

// The reconcile Lambda handler, end to end, on the sample events of events/.
const aws = awsForDefaultAccount();
let bakery: Bakery;
type Handler = (event: unknown, context: Context) => Promise<SQSBatchResponse | undefined>;
let handler: Handler;
/** The same handler as serverless.yml bundles it (minified, SDK included, esbuild plugins). */
let bundled: Handler;
const context = {
  functionName: 'reconcile',
  awsRequestId: 'test',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

function timer(bakeId: string, version: number, messageId = 'm-1') {
  return { Records: [{ ...timerEvent.Records[0], messageId, body: JSON.stringify({ bakeId, version }) }] };
}

beforeAll(async () => {
  const sandbox = await createSandbox(aws, { name: 'handler', desiredCapacity: 1 });
  await handlerEnvironment(aws, sandbox, 'handler', 'reconcile');
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  // The admin's engine, to start bakes as a fixture; the handler under test runs as reconcile.
  bakery = createBakery(quietLog, process.env, { clients: aws, crossAccount });
  const module = await import('../../functions/reconcile');
  handler = module.handler;
  const out = await mkdtemp(join(tmpdir(), 'ami-bakery-bundle-'));
  const { file } = await bundleFunction(
    new URL('../../functions/reconcile.ts', import.meta.url).pathname,
    join(out, 'reconcile.js'),
  );
  bundled = (createRequire(import.meta.url)(file) as { handler: Handler }).handler;
});

describe('the reconcile handler', () => {
  it.each(['source', 'bundle'])(
    'drives a bake to success on its timer messages and EC2 events (%s)',
    async (built) => {
      const run = built === 'bundle' ? bundled : handler;
      const { id } = await startBake(bakery, 'minimal');

      for (let pass = 0; pass < 100; pass += 1) {
        const { bake } = await bakery.store.get(id);
        if (isTerminal(bake.phase)) break;
        const instanceId = bake.builder?.instanceId ?? 'i-none';
        const imageId = bake.image?.imageId ?? 'ami-none';
        await run(timer(id, bake.version), context);
        await run(
          { ...instanceEvent, detail: { ...instanceEvent.detail, 'instance-id': instanceId } },
          context,
        );
        await run({ ...amiEvent, detail: { ...amiEvent.detail, ImageId: imageId } }, context);
      }

      expect((await bakery.store.get(id)).bake.phase).toBe('succeeded');
    },
  );

  it('sweeps on the schedule event', async () => {
    await expect(handler(sweepEvent, context)).resolves.toBeUndefined();
  });

  it('drops an event it cannot read, without failing', async () => {
    await expect(handler({ hello: 'world' }, context)).resolves.toBeUndefined();
  });

  it('acknowledges a timer whose body is garbled', async () => {
    const garbled = { Records: [{ ...timerEvent.Records[0], body: '{not json' }] };

    await expect(handler(garbled, context)).resolves.toEqual({ batchItemFailures: [] });
  });

  it('hands the timer message back to SQS when the pass cannot observe AWS', async () => {
    const { id } = await startBake(bakery, 'web');
    await controlFor(aws).setFaults([
      { kind: 'error', service: 'ec2', action: 'DescribeInstances', status: 503, count: 20 },
    ]);

    const response = await handler(timer(id, 1, 'm-42'), context);

    await controlFor(aws).clearFaults();
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-42' }] });
  });
});
