import { createRequire } from 'node:module';
import { cruise, type IConfiguration } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

// The rules `npm run lint` checks (.dependency-cruiser.cjs), shown to bite: a lib module that
// imports config/ is an error, and so are two lib folders importing each other. (The real tree is
// checked by the lint script itself.)
const config = createRequire(import.meta.url)('../../.dependency-cruiser.cjs') as IConfiguration;

async function violations(baseDir: string, roots = ['lib', 'config']): Promise<string[]> {
  const result = await cruise(roots, {
    validate: true,
    ruleSet: { forbidden: config.forbidden },
    baseDir,
    tsPreCompilationDeps: false,
  });
  const output = result.output as {
    summary: { violations: { rule: { name: string }; from: string; to: string }[] };
  };
  return output.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
}

describe('the architecture rules', () => {
  it('refuse a lib module that imports config/', async () => {
    expect(await violations('test/fixtures/architecture')).toEqual([
      'lib-stays-below: lib/leak.ts -> config/pipelines.ts',
    ]);
  });

  it('refuse two lib folders that import each other, with no module cycle', async () => {
    expect(await violations('test/fixtures/architecture-folders', ['lib'])).toEqual([
      'no-circular-folders: lib/down -> lib/up',
      'no-circular-folders: lib/up -> lib/down',
    ]);
  });

  it('find nothing to refuse in the real tree', async () => {
    expect(await violations('.')).toEqual([]);
  });
});
