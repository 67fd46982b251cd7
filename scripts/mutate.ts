/**
 * `npm run mutate`: mutation testing (Stryker, vitest runner, TypeScript checker) over the modules
 * where a bug costs the most, group by group, each with the tests that reach it — unit tests where
 * they can kill a mutant, and only the integration files needed for the rest. Incremental: each
 * group keeps its last results in reports/mutation/, so a re-run tests only what changed. Prints
 * the score per module and writes the table into docs/benchmarks.md. Not part of CI; run it
 * before a change to these modules lands. `MUTATE_ONLY=decide,api` runs some groups (the table
 * keeps the others' latest results); `MUTATE_FRESH=1` ignores the incremental results; `MUTATE_TYPECHECK=1` adds
 * the TypeScript checker (exact, about 20 times slower).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { Stryker } from '@stryker-mutator/core';
import { figuresTable, machine, replaceSection, type Figure } from '../bench/figures';

interface Group {
  readonly name: string;
  readonly mutate: readonly string[];
  readonly tests: readonly string[];
}

export const GROUPS: readonly Group[] = [
  {
    name: 'decide',
    mutate: ['lib/bake/decide.ts', 'lib/bake/apply.ts'],
    tests: ['test/unit/bake-decide.test.ts', 'test/unit/bake-waves.test.ts'],
  },
  {
    name: 'notifications',
    mutate: ['lib/bake/notifications.ts'],
    tests: ['test/unit/bake-notifications.test.ts', 'test/unit/bake-waves.test.ts'],
  },
  {
    name: 'nightly',
    mutate: ['lib/bake/plan.ts', 'lib/bake/nightly.ts'],
    tests: ['test/unit/bake-plan.test.ts', 'test/integration/nightly.test.ts'],
  },
  {
    name: 'retention',
    mutate: ['lib/retention/plan.ts'],
    tests: ['test/unit/retention-plan.test.ts'],
  },
  {
    // Each call stated with a mocked client (fast), then the run end to end against the emulator
    // for what those do not kill (about half a minute a mutant on 2 cores).
    name: 'janitor',
    mutate: ['lib/retention/janitor.ts'],
    tests: ['test/unit/retention-janitor.test.ts', 'test/integration/retention.test.ts'],
  },
  {
    name: 'pruning',
    mutate: ['lib/rollout/launch-template.ts'],
    tests: ['test/unit/rollout-launch-template.test.ts', 'test/integration/rollout-launch-template.test.ts'],
  },
  {
    name: 'lifecycle',
    // The rules (pure) and the message parsing: unit tests.
    mutate: ['lib/lifecycle/decide.ts', 'lib/lifecycle/message.ts'],
    tests: ['test/unit/lifecycle-decide.test.ts', 'test/unit/lifecycle-message.test.ts'],
  },
  {
    // The AWS side of lifecycle actions: each call with mocked clients, then end to end against
    // the emulator for what those do not kill (about half a minute a mutant on 2 cores).
    name: 'lifecycle-engine',
    mutate: ['lib/lifecycle/engine.ts'],
    tests: ['test/unit/lifecycle-engine.test.ts', 'test/integration/lifecycle.test.ts'],
  },
  {
    name: 'store',
    mutate: ['lib/store/bakes.ts', 'lib/store/lease.ts'],
    // The store's own adapter tests, call by call against the emulator: fast. The concurrency suite
    // (whole bakes racing) covers the same calls at a minute a mutant; CI runs it.
    tests: [
      'test/unit/bake-store.test.ts',
      'test/integration/bake-store.test.ts',
      'test/integration/bakes-table.test.ts',
    ],
  },
  {
    name: 'api',
    mutate: ['lib/api/routes.ts'],
    // Not the fuzz suite: 400 random requests per mutant is minutes; api.test.ts states each case.
    tests: ['test/unit/api-routes.test.ts', 'test/integration/api.test.ts'],
  },
  {
    // The HTTP edge (middlewares, the error mapping) needs no AWS: its unit tests state each case.
    name: 'http',
    mutate: ['lib/api/problem.ts', 'lib/api/handler.ts'],
    tests: ['test/unit/api-problem.test.ts', 'test/unit/api-handler.test.ts'],
  },
];

const TARGET = 90;
const COMMAND = 'npm run mutate';

/** Mutation score as Stryker reports it: killed and timed-out mutants over all valid ones, reached or not. */
export function score(statuses: readonly string[]): {
  score: number;
  detected: number;
  valid: number;
  survived: number;
  noCoverage: number;
  /** Marked equivalent in the source (`// Stryker disable ...: reason`): not in the score. */
  ignored: number;
} {
  const count = (...wanted: string[]) => statuses.filter((status) => wanted.includes(status)).length;
  const detected = count('Killed', 'Timeout');
  const survived = count('Survived');
  const noCoverage = count('NoCoverage');
  const valid = detected + survived + noCoverage;
  const ignored = count('Ignored');
  return {
    score: valid === 0 ? 100 : (100 * detected) / valid,
    detected,
    valid,
    survived,
    noCoverage,
    ignored,
  };
}

/** A group's last results, from its incremental report (what a re-run starts from). */
function lastResults(group: Group): { statuses: Map<string, string[]>; at: Date } | undefined {
  const file = reportOf(group);
  if (!existsSync(file)) return undefined;
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    files: Record<string, { mutants: { status: string }[] }>;
  };
  const statuses = new Map<string, string[]>();
  for (const [name, { mutants }] of Object.entries(report.files)) {
    statuses.set(
      name,
      mutants.map((m) => m.status),
    );
  }
  return { statuses, at: statSync(file).mtime };
}

const reportOf = (group: Group) => `reports/mutation/${group.name}.json`;

async function runGroup(group: Group): Promise<void> {
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
    // Always incremental, so the report (the table's source) is written; MUTATE_FRESH re-runs every mutant.
    incremental: true,
    force: process.env.MUTATE_FRESH === '1',
    incrementalFile: reportOf(group),
    // One emulator and its Node sidecar already share the 2 cores with the tests.
    concurrency: integration ? 1 : 2,
    timeoutMS: 20_000,
    reporters: ['clear-text', 'progress'],
    clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
    tempDirName: `.stryker-tmp/${group.name}`,
    cleanTempDir: 'always',
  });
  await stryker.runMutationTest();
}

async function main(): Promise<number> {
  const only = (process.env.MUTATE_ONLY ?? '').split(',').filter(Boolean);
  const groups = only.length > 0 ? GROUPS.filter((g) => only.includes(g.name)) : GROUPS;
  for (const group of groups) {
    const started = Date.now();
    await runGroup(group);
    console.log(`mutate: ${group.name} done in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
  }
  // The table: every group's latest results, this run's or an earlier one's (dated).
  const figures: Figure[] = [];
  for (const group of GROUPS) {
    const last = lastResults(group);
    for (const file of group.mutate) {
      const statuses = last?.statuses.get(file);
      const s = statuses ? score(statuses) : undefined;
      figures.push({
        figure: `mutation score, ${file}`,
        value: s
          ? `${s.score.toFixed(1)}% (${s.detected} of ${s.valid}; ${s.survived} survived, ${s.noCoverage} not reached${s.ignored > 0 ? `; ${s.ignored} equivalent, marked in the source` : ''}; ${last?.at.toISOString().slice(0, 10) ?? ''})`
          : 'not run yet',
        target: `>= ${TARGET}%`,
        ...(s ? { met: s.score >= TARGET } : {}),
        command: `MUTATE_ONLY=${group.name} ${COMMAND}`,
      });
    }
  }
  const table = figuresTable(figures);
  console.log(`\n${table}`);
  await replaceSection(
    new URL('../docs/benchmarks.md', import.meta.url).pathname,
    'mutation',
    `Latest results per group (\`${COMMAND}\`, or one group with its command): ${machine('moto 5.2.1 with the emulator extension')}.\n\n${table}`,
  );
  console.log('Written to docs/benchmarks.md.');
  return figures.every((f) => f.met !== false) ? 0 : 1;
}

process.exitCode = await main();
