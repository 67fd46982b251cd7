import { expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox } from '../../emulator/sandbox';
import { isTerminal } from '../../lib/bake/model';
import { reconcile, startBake } from '../../lib/bake/service';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { awsForTest, controlFor } from '../support/aws';
import { bakeryForTest } from '../support/bakery';

// GetCommandInvocation often answers InvocationDoesNotExist right after SendCommand (its API
// reference, Errors): a pass that meets it reads the step as still running, and never fails.
it('a step whose invocation is not visible yet is waited for, with no failed pass', async () => {
  const aws = awsForTest(import.meta.url);
  const sandbox = await createSandbox(aws, { name: 'visibility', desiredCapacity: 0 });
  const [, minimal] = pipelines as [PipelineInput, PipelineInput];
  const bakery = await bakeryForTest(aws, sandbox, [minimal]);
  // Commands finish at once, but their invocations show up only 0.5 s later.
  await controlFor(aws).configure({ delays: { 'ssm.invocation.visible': 0.5 } });
  const { id } = await startBake(bakery.as('api'), 'minimal');

  const outcomes: string[] = [];
  const deadline = Date.now() + 20_000;
  let phase = 'requested';
  while (!isTerminal(phase as never) && Date.now() < deadline) {
    const report = await reconcile(bakery, [id]);
    outcomes.push(...Object.values(report.outcomes));
    phase = (await bakery.store.get(id)).bake.phase;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  expect(phase).toBe('succeeded');
  expect(outcomes).not.toContain('error');
  const { bake } = await bakery.store.get(id);
  expect(bake.steps.map((s) => [s.name, s.status, s.exitCode])).toEqual([
    ['update', 'Success', 0],
    ['kernel', 'Success', 0],
  ]);
});
