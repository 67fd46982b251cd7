import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import launchEvent from '../../events/sns-lifecycle-launch.json';
import { createSandbox } from '../../emulator/sandbox';
import { LifecycleStore } from '../../lib/lifecycle/store';
import { awsForDefaultAccount } from '../support/aws';
import { handlerEnvironment } from '../support/bakery';

// The lifecycle Lambda handler, end to end, on the sample event of events/.
describe('the lifecycle handler', () => {
  it('takes the sample notification (an action Auto Scaling no longer holds) to a completed record, and drops what it cannot read', async () => {
    const aws = awsForDefaultAccount();
    const sandbox = await createSandbox(aws, { name: 'lifecycle-handler', desiredCapacity: 1 });
    await handlerEnvironment(aws, sandbox, 'lifecycle-handler', 'lifecycle');
    const table = process.env.BAKES_TABLE ?? '';
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    const { handler } = await import('../../functions/lifecycle');
    const context = { functionName: 'lifecycle', awsRequestId: 't' } as unknown as Context;
    const garbled = {
      Records: [{ ...launchEvent.Records[0], Sns: { ...launchEvent.Records[0]?.Sns, Message: '{oops' } }],
    };

    await handler(launchEvent, context);
    await handler(garbled, context);
    await handler({ hello: 'world' }, context);

    const record = await new LifecycleStore(aws.documents, table).get('71514b9d-6a40-4b26-8523-05e7ee35fa40');
    expect(record).toMatchObject({
      status: 'completed',
      pipeline: 'web',
      group: 'web-fleet',
      outcome: 'no-check',
    });
    expect(record.reason).toMatch(/No active lifecycle action/i);
  });
});
