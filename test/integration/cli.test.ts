import { execFile } from 'node:child_process';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox } from '../../emulator/sandbox';
import { createApiHandler } from '../../lib/api/handler';
import { reconcile } from '../../lib/bake/service';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { startLocalApi, type LocalApi } from '../../scripts/local/api-server';
import { awsForTest, controlFor } from '../support/aws';
import { bakeryForTest, type TestBakery } from '../support/bakery';

// The CLI as a user runs it (bin/ami-bakery.mjs in its own process) against the local API.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];
const aws = awsForTest(import.meta.url);
let bakery: TestBakery;
let api: LocalApi;
let reconciling = true;
let loop: Promise<void>;

beforeAll(async () => {
  const sandbox = await createSandbox(aws, { name: 'cli', desiredCapacity: 1 });
  bakery = await bakeryForTest(aws, sandbox, [
    { ...minimal, name: 'plain', publish: { parameter: '/ami-bakery/plain/latest' } },
    {
      ...minimal,
      name: 'broken',
      publish: { parameter: '/ami-bakery/broken/latest' },
      provision: [{ name: 'update', run: ['exit-with-failure'] }],
    },
  ]);
  await controlFor(aws).configure({
    timeScale: 0.002,
    ssmRules: [{ commandPattern: 'exit-with-failure', status: 'Failed', exitCode: 3, stderr: 'boom' }],
  });
  api = await startLocalApi(createApiHandler(new Logger({ logLevel: 'SILENT' }), () => bakery.as('api')));
  // What the reconcile function's triggers do in AWS: keep passing over the active bakes.
  loop = (async () => {
    while (reconciling) {
      await reconcile(bakery).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  })();
});

afterAll(async () => {
  reconciling = false;
  await loop;
  await api.stop();
});

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/ami-bakery.mjs', ...args],
      { cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, AMI_BAKERY_URL: api.url } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('the ami-bakery CLI', () => {
  it('bakes with --follow to the end, showing each phase; exit 0', async () => {
    const run = await cli('bake', 'plain', '--follow', '--interval', '100', '--reason', 'from the CLI');

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^b\d{14}-[0-9a-f]{6} {2}bake of plain/m);
    for (const phase of ['requested', 'launching', 'provisioning', 'imaging', 'publishing', 'succeeded']) {
      expect(run.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d {2}${phase}$`, 'm'));
    }
    expect(run.stdout).toMatch(/image {5}ami-/);
  }, 60_000);

  it('exits 1 when the followed bake fails, with the step output', async () => {
    const run = await cli('bake', 'broken', '--follow', '--interval', '100');

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/failure {3}StepFailed: Step provision\/update ended Failed \(exit 3\)/);
    expect(run.stdout).toContain('boom');
  }, 60_000);

  it('prints JSON for scripts: list, status and pipelines', async () => {
    const list = await cli('list', '--pipeline', 'plain', '--json');
    const [latest] = (JSON.parse(list.stdout) as { bakes: { id: string }[] }).bakes;
    const status = await cli('status', latest?.id ?? '', '--json');
    const shown = await cli('pipelines', '--json');

    expect([list.code, status.code, shown.code]).toEqual([0, 0, 0]);
    expect(JSON.parse(status.stdout)).toMatchObject({ bake: { id: latest?.id, phase: 'succeeded' } });
    const { pipelines: listed } = JSON.parse(shown.stdout) as {
      pipelines: { name: string; currentImageId: string | null }[];
    };
    expect(listed.map((p) => p.name)).toEqual(['plain', 'broken']);
    expect(listed[0]?.currentImageId).toMatch(/^ami-/);
    expect(listed[1]?.currentImageId).toBeNull();
  });

  it('shows what retention would delete and why the rest stays', async () => {
    const run = await cli('retention', 'plain');

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^keep {4}ami-\w+ {2}us-east-1 {2}among the 5 newest successful images/m);
    expect(run.stdout).toMatch(/^0 to delete \(0 GiB\), \d+ kept$/m);
  });

  it('says when nothing changed, and bakes anyway with --force', async () => {
    const skipped = await cli('bake', 'plain');
    const forced = await cli('bake', 'plain', '--force', '--json');
    const { bake } = JSON.parse(forced.stdout) as { bake: { id: string } };
    const cancelled = await cli('cancel', bake.id);
    const followed = await cli('status', bake.id, '--follow', '--interval', '100');

    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toMatch(/^skipped: base image and recipe unchanged/);
    expect(cancelled.stdout).toMatch(/^watch it: ami-bakery status b\d{14}-[0-9a-f]{6} --follow$/m);
    expect(forced.code).toBe(0);
    expect(cancelled.code).toBe(0);
    expect(followed.code).toBe(1);
    expect(followed.stdout).toMatch(/cancelled$/m);
  }, 60_000);

  it.each([
    [['bake', 'nope'], 1, /Not found: Unknown pipeline: "nope"/],
    [['approve', 'b20260101000000-abcdef'], 1, /Not found/],
    [
      ['rollout', 'plain', 'ami-12345678'],
      1,
      /Cannot do that: Pipeline plain has no rollout targets \(pipeline\)/,
    ],
    [[], 2, /Usage: ami-bakery/],
    [['help'], 0, /Usage: ami-bakery/],
    [['console', '--help'], 0, /^Usage: ami-bakery console .*--no-open\]$[\s\S]*signed with SigV4/m],
    [['console', '--port', '70000'], 2, /--port: a port number from 0 to 65535, not 70000/],
    [['console', 'extra'], 2, /too many arguments: extra \(expected console\)/],
    [['bake'], 2, /expected bake <pipeline>/],
    [['bake', 'plain', 'extra'], 2, /too many arguments: extra \(expected bake <pipeline>\)/],
    [['frobnicate'], 2, /unknown command: frobnicate$/m],
    [['stauts', 'x'], 2, /unknown command: stauts \(did you mean status\?\)/],
    [['list', '--colour'], 2, /Unknown option '--colour'/],
    [['list', '--limit', 'abc'], 2, /--limit: a whole number from 1 to 100, not abc/],
    [['list', '--endpoint', 'http://bakery.example.com'], 2, /use https:\/\//],
  ])('%j exits %i', async (args, code, message) => {
    const run = await cli(...args);

    expect(run.code).toBe(code);
    expect(run.stderr + run.stdout).toMatch(message);
  });

  it('keeps a usage error short: one line and where to look, not the whole usage', async () => {
    const run = await cli('bake');

    expect(run.stderr).toBe("ami-bakery: expected bake <pipeline>\nRun 'ami-bakery help' for usage.\n");
  });

  it('says its version', async () => {
    const run = await cli('--version');

    expect(run).toMatchObject({ code: 0, stdout: 'ami-bakery 0.1.0\n' });
  });

  it('names the URL and the cause when the API cannot be reached, in JSON too', async () => {
    const text = await cli('pipelines', '--endpoint', 'http://127.0.0.1:9');
    const json = await cli('pipelines', '--json', '--endpoint', 'http://127.0.0.1:9');

    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(
      /^ami-bakery: cannot reach http:\/\/127\.0\.0\.1:9\/pipelines: .+ \(is the API running/,
    );
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { title: 'Unreachable', url: 'http://127.0.0.1:9/pipelines' },
    });
  });

  it('lists with a header and the kind, and says how to see more', async () => {
    const first = await cli('list', '--limit', '1');
    const more = /^more: ami-bakery list --limit 1 --cursor (\S+)$/m.exec(first.stdout);
    const second = await cli('list', '--limit', '1', '--cursor', more?.[1] ?? '');

    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^ID +KIND +PIPELINE +PHASE +STARTED +IMAGE$/m);
    expect(first.stdout).toMatch(/^b\d{14}-[0-9a-f]{6} +bake +\w+ +\w+ +\d+[smhd] ago /m);
    expect(more).not.toBeNull();
    expect(second.code).toBe(0);
    const ids = (run: { stdout: string }) => run.stdout.match(/^b\d{14}-[0-9a-f]{6}/gm);
    expect(ids(second)).not.toEqual(ids(first));
  });
});
