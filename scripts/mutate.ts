/**
 * `npm run mutate`: mutation testing (Stryker, vitest runner, TypeScript checker) over the modules
 * where a bug costs the most, group by group, each with the tests that reach it — unit tests where
 * they can kill a mutant, and only the integration files needed for the rest. Incremental: each
 * group keeps its last results in reports/mutation/, so a re-run tests only what changed. Prints
 * the score per module and writes the table into docs/benchmarks.md. Not part of CI; run it
 * before a change to these modules lands. `MUTATE_ONLY=decide,api` runs some groups (and leaves
 * the page alone); `MUTATE_FRESH=1` ignores the incremental results; `MUTATE_TYPECHECK=1` adds
 * the TypeScript checker (exact, about 20 times slower).
 */
import { mkdirSync } from 'node:fs';
import { Stryker } from '@stryker-mutator/core';
import { figuresTable, machine, replaceSection, type Figure } from '../bench/figures';

type MutantResult = Awaited<ReturnType<Stryker['runMutationTest']>>[number];

interface Group {
  readonly name: string;
  readonly mutate: readonly string[];
  readonly tests: readonly string[];
}

export const GROUPS: readonly Group[] = [
  {
    name: 'decide',
    mutate: ['lib/bake/decide.ts', 'lib/bake/apply.ts'],
    tests: ['test/unit/bake-decide.test.ts'],
  },
  {
    name: 'nightly',
    mutate: ['lib/bake/plan.ts', 'lib/bake/nightly.ts'],
    tests: ['test/unit/bake-plan.test.ts', 'test/integration/nightly.test.ts'],
  },
  {
    name: 'retention',
    mutate: ['lib/retention/plan.ts', 'lib/retention/janitor.ts'],
    tests: ['test/unit/retention-plan.test.ts', 'test/integration/retention.test.ts'],
  },
  {
    name: 'pruning',
    mutate: ['lib/rollout/launch-template.ts'],
    tests: ['test/unit/rollout-launch-template.test.ts', 'test/integration/rollout-launch-template.test.ts'],
  },
  {
    name: 'lifecycle',
    mutate: ['lib/lifecycle/engine.ts', 'lib/lifecycle/message.ts'],
    tests: ['test/unit/lifecycle-message.test.ts', 'test/integration/lifecycle.test.ts'],
  },
  {
    name: 'store',
    mutate: ['lib/store/bakes.ts', 'lib/store/lease.ts'],
    tests: ['test/integration/bakes-table.test.ts', 'test/integration/bake-concurrency.test.ts'],
  },
  {
    name: 'api',
    mutate: ['lib/api/routes.ts', 'lib/api/problem.ts', 'lib/api/handler.ts'],
    tests: ['test/integration/api.test.ts', 'test/integration/api-fuzz.test.ts'],
  },
];

const TARGET = 90;
const COMMAND = 'npm run mutate';

/** Mutation score as Stryker reports it: killed and timed-out over all valid mutants that tests reach or not. */
export function score(results: readonly MutantResult[]): {
  score: number;
  detected: number;
  valid: number;
  survived: number;
  noCoverage: number;
} {
  const count = (...statuses: MutantResult['status'][]) =>
    results.filter((r) => statuses.includes(r.status)).length;
  const detected = count('Killed', 'Timeout');
  const survived = count('Survived');
  const noCoverage = count('NoCoverage');
  const valid = detected + survived + noCoverage;
  return { score: valid === 0 ? 100 : (100 * detected) / valid, detected, valid, survived, noCoverage };
}

async function runGroup(group: Group): Promise<MutantResult[]> {
  process.env.MUTATE_TESTS = group.tests.join(',');
  const integration = group.tests.some((file) => file.startsWith('test/integration/'));
  mkdirSync('reports/mutation', { recursive: true });
  const stryker = new Stryker({
    testRunner: 'vitest',
    vitest: { configFile: 'vitest.mutate.config.ts', related: false },
    // The TypeScript checker drops mutants that would not compile; on 2 cores it costs about 2.3 s a
    // mutant (45 min for decide.ts instead of 2), so it is opt-in: MUTATE_TYPECHECK=1.
    checkers: process.env.MUTATE_TYPECHECK === '1' ? ['typescript'] : [],
    // Mutants are type-checked against lib/ alone (it imports nothing outside it): far faster.
    tsconfigFile: 'tsconfig.mutate.json',
    typescriptChecker: { prioritizePerformanceOverAccuracy: true },
    coverageAnalysis: 'perTest',
    mutate: [...group.mutate],
    incremental: process.env.MUTATE_FRESH !== '1',
    incrementalFile: `reports/mutation/${group.name}.json`,
    // One emulator and its Node sidecar already share the 2 cores with the tests.
    concurrency: integration ? 1 : 2,
    timeoutMS: 20_000,
    reporters: ['clear-text', 'progress'],
    clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
    tempDirName: `.stryker-tmp/${group.name}`,
    cleanTempDir: 'always',
  });
  return stryker.runMutationTest();
}

async function main(): Promise<number> {
  const only = (process.env.MUTATE_ONLY ?? '').split(',').filter(Boolean);
  const groups = only.length > 0 ? GROUPS.filter((g) => only.includes(g.name)) : GROUPS;
  const figures: Figure[] = [];
  for (const group of groups) {
    const started = Date.now();
    const results = await runGroup(group);
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    for (const file of group.mutate) {
      const s = score(results.filter((r) => r.fileName.endsWith(file)));
      figures.push({
        figure: `mutation score, ${file}`,
        value: `${s.score.toFixed(1)}% (${s.detected} of ${s.valid}; ${s.survived} survived, ${s.noCoverage} not reached)`,
        target: `>= ${TARGET}%`,
        met: s.score >= TARGET,
        command: `MUTATE_ONLY=${group.name} ${COMMAND}`,
      });
    }
    console.log(`mutate: ${group.name} done in ${minutes} min`);
  }
  const table = figuresTable(figures);
  console.log(`\n${table}`);
  if (only.length === 0) {
    const ranOn = `${new Date().toISOString().slice(0, 10)}, ${machine('moto 5.2.1 with the emulator extension')}`;
    await replaceSection(
      new URL('../docs/benchmarks.md', import.meta.url).pathname,
      'mutation',
      `Latest \`${COMMAND}\`: ${ranOn}.\n\n${table}`,
    );
    console.log('Written to docs/benchmarks.md.');
  }
  return figures.every((f) => f.met !== false) ? 0 : 1;
}

process.exitCode = await main();
