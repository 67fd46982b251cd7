import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import nightlyEvent from '../../events/scheduled-nightly.json';
import { pipelines } from '../../config/pipelines';
import { createSandbox } from '../../emulator/sandbox';
import { runNightly } from '../../lib/bake/nightly';
import { loadPipelines, PipelineCatalog } from '../../lib/pipeline/catalog';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { awsForDefaultAccount, awsForTest, controlFor } from '../support/aws';
import { bakeryForTest, handlerEnvironment, runToEnd } from '../support/bakery';
import { receiveNotifications } from '../support/notifications';

// The nightly run: bake only what changed, and say why the rest was skipped.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];
const scheduled: PipelineInput = {
  ...minimal,
  name: 'scheduled',
  publish: { parameter: '/ami-bakery/scheduled/latest' },
  schedule: { nightly: true, maxAgeDays: 7 },
};
const manual: PipelineInput = {
  ...minimal,
  name: 'manual',
  publish: { parameter: '/ami-bakery/manual/latest' },
  schedule: { nightly: false },
};

describe('runNightly', () => {
  it('bakes a pipeline that never baked, skips it once nothing changed, and bakes again on a new recipe', async () => {
    const aws = awsForTest(import.meta.url);
    const sandbox = await createSandbox(aws, { name: 'nightly', desiredCapacity: 1 });
    const bakery = await bakeryForTest(aws, sandbox, [scheduled, manual]);
    await controlFor(aws).configure({ timeScale: 0.002 });

    const first = await runNightly(bakery.as('nightly'));
    const busy = await runNightly(bakery.as('nightly'));
    const started = first[0]?.outcome === 'started' ? first[0].bakeId : '';
    await runToEnd(bakery, started);
    await receiveNotifications(aws, sandbox.queueUrl, { count: 50, timeoutMs: 500 }); // the bake's own
    const unchanged = await runNightly(bakery.as('nightly'));
    const skipped = await receiveNotifications(aws, sandbox.queueUrl, { count: 1, timeoutMs: 3_000 });
    const changed = { ...scheduled, provision: [{ name: 'update', run: ['dnf upgrade -y', 'echo v2'] }] };
    const again = await runNightly({
      ...bakery.as('nightly'),
      catalog: new PipelineCatalog(
        loadPipelines([changed, manual], { builderProfile: 'ami-bakery-builder' }),
      ),
    });

    expect(first).toEqual([
      { pipeline: 'scheduled', outcome: 'started', bakeId: started, reason: 'no successful bake yet' },
    ]);
    expect(busy).toEqual([{ pipeline: 'scheduled', outcome: 'busy', activeBakeId: started }]);
    expect(unchanged).toHaveLength(1);
    expect(unchanged[0]).toMatchObject({ pipeline: 'scheduled', outcome: 'skipped' });
    expect((unchanged[0] as { reason: string }).reason).toMatch(/unchanged since bake/);
    expect(
      skipped.map((n) => [
        n.attributes.type,
        (n.message as { detail: { lastBakeId: string } }).detail.lastBakeId,
      ]),
    ).toEqual([['bake.skipped', started]]);
    expect(again).toEqual([
      expect.objectContaining({ outcome: 'started', reason: `recipe changed since bake ${started}` }),
    ]);
    const { bake } = await bakery.store.get(again[0]?.outcome === 'started' ? again[0].bakeId : '');
    expect(bake.reason).toBe(`nightly: recipe changed since bake ${started}`);
  });
});

describe('runNightly with an unchanged pipeline whose last bake is too old', () => {
  it('bakes again, saying how old the last bake is (schedule.maxAgeDays)', async () => {
    const aws = awsForTest(`${import.meta.url}#old`);
    const sandbox = await createSandbox(aws, { name: 'nightly-old', desiredCapacity: 1 });
    const bakery = await bakeryForTest(aws, sandbox, [scheduled]);
    await controlFor(aws).configure({ timeScale: 0.002 });
    const first = await runNightly(bakery.as('nightly'));
    await runToEnd(bakery, first[0]?.outcome === 'started' ? first[0].bakeId : '');
    const eightDaysOn = () => new Date(Date.now() + 8 * 86_400_000);

    const sameDay = await runNightly(bakery.as('nightly'));
    const later = await runNightly({ ...bakery.as('nightly'), clock: eightDaysOn });

    expect(sameDay).toEqual([expect.objectContaining({ outcome: 'skipped' })]);
    expect(later).toEqual([
      expect.objectContaining({
        outcome: 'started',
        reason: expect.stringMatching(/^last bake b\d{14}-[0-9a-f]{6} is 8 days old \(max 7\)$/) as unknown,
      }),
    ]);
  });
});

describe('runNightly with a pipeline whose base image is gone', () => {
  it('reports that pipeline as an error and still bakes the others', async () => {
    const aws = awsForTest(`${import.meta.url}#broken`);
    const sandbox = await createSandbox(aws, { name: 'nightly-broken', desiredCapacity: 1 });
    const broken: PipelineInput = {
      ...scheduled,
      name: 'broken',
      publish: { parameter: '/ami-bakery/broken/latest' },
      baseImage: { ssmParameter: '/aws/service/ami-amazon-linux-latest/no-such-image' },
    };
    const bakery = await bakeryForTest(aws, sandbox, [broken, scheduled]);

    const outcomes = await runNightly(bakery.as('nightly'));

    expect(outcomes).toEqual([
      {
        pipeline: 'broken',
        outcome: 'error',
        error: {
          code: expect.any(String) as unknown,
          message: expect.stringContaining('no-such-image') as unknown,
        },
      },
      expect.objectContaining({ pipeline: 'scheduled', outcome: 'started' }),
    ]);
  });
});

// The handler builds its own clients from the environment, so it runs in moto's default account,
// which every handler test shares. Late in a full run, creating that account's sandbox has been
// measured at 30-55 s (alone: under 1 s); the cause is not found yet (issue 17's note). The
// budget is the sandbox's, not the handler's: the handler itself answers in well under a second.
const DEFAULT_ACCOUNT_BUDGET_MS = 180_000;

describe('the nightly handler', () => {
  it(
    'runs on the schedule event and reports each scheduled pipeline',
    { timeout: DEFAULT_ACCOUNT_BUDGET_MS },
    async () => {
      const aws = awsForDefaultAccount();
      const sandbox = await createSandbox(aws, { name: 'nightly-handler', desiredCapacity: 1 });
      await handlerEnvironment(aws, sandbox, 'nightly-handler', 'nightly');
      process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
      const { handler } = await import('../../functions/nightly');

      const result = await handler(nightlyEvent, {
        functionName: 'nightly',
        awsRequestId: 't',
      } as unknown as Context);

      expect(result.outcomes.map((o) => [o.pipeline, o.outcome])).toEqual([
        ['web', 'started'],
        ['minimal', 'started'],
      ]);
    },
  );
});
