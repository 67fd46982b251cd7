import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BakeStore } from '../../lib/store/bakes';
import { startLocalEnvironment, writeFunctionEnvFiles } from '../../scripts/local/environment';

// The README's `serverless invoke local` with a sample event from events/, against the local
// stack, offline: the function runs from its bundle, as its own role, and its bake is real.
describe('serverless invoke local', () => {
  it('runs the api function with events/api-post-bakes.json against the local stack', async () => {
    const local = await startLocalEnvironment('invoke');
    const dir = await mkdtemp(join(tmpdir(), 'ami-bakery-env-'));
    try {
      writeFunctionEnvFiles(local, dir);
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.endsWith('_TABLE')),
      );

      const { stdout } = await promisify(execFile)(
        'sh',
        [
          '-c',
          `set -a; . "${dir}/api.env"; exec npx serverless invoke local -f api -p events/api-post-bakes.json --param resources=env --region "$AWS_REGION"`,
        ],
        {
          cwd: new URL('../..', import.meta.url).pathname,
          // Its own build folder: another test may be packaging the stack at the same time.
          env: { ...env, SLS_TELEMETRY_DISABLED: '1', AMI_BAKERY_ESBUILD_FOLDER: '.esbuild-invoke-test' },
        },
      );

      const result = JSON.parse(stdout.slice(stdout.indexOf('{\n'))) as { statusCode: number; body: string };
      expect(result.statusCode, stdout).toBe(202);
      const { bake } = JSON.parse(result.body) as { bake: { id: string; pipeline: string } };
      expect(bake.pipeline).toBe('web');
      const store = new BakeStore(local.aws.documents, local.tableName);
      expect((await store.get(bake.id)).bake.reason).toBe('CVE-2026-1234 patched in the base image');
    } finally {
      await local.stop();
      await rm(new URL('../../.esbuild-invoke-test', import.meta.url), { recursive: true, force: true });
    }
  }, 120_000);
});
