import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { FUNCTION_BUNDLE_OPTIONS } from '../../build/bundle';

// The benchmark and the bundle tests build functions with build/bundle.ts; the deployment
// builds them with serverless-esbuild from serverless.yml. They must be the same build.
describe('the function bundle options', () => {
  it('match serverless.yml custom.esbuild', () => {
    const text = readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8');
    const stack = parse(text, { logLevel: 'silent' }) as { custom: { esbuild: Record<string, unknown> } };
    const deployed = stack.custom.esbuild;

    for (const [option, value] of Object.entries(FUNCTION_BUNDLE_OPTIONS)) {
      expect(deployed[option], option).toEqual(value);
    }
    expect(deployed.plugins).toBe('build/esbuild-plugins.cjs');
    expect(deployed.exclude).toEqual([]);
  });
});
