/**
 * `npm run bench`: every benchmark, then one table (figure, value, target, verdict, command),
 * written into docs/benchmarks.md with the machine it ran on. `BENCH_ONLY=cold-start|bake|lifecycle|api|emulator`
 * runs one part (and leaves the page alone).
 */
import { execFileSync } from 'node:child_process';
import { startLocalEnvironment } from '../scripts/local/environment';
import { benchBakes, reportLifecycle } from './bake';
import { benchColdStart } from './cold-start';
import { figuresTable, machine, replaceSection, type Figure } from './figures';
import { benchLifecycle } from './lifecycle';
import { benchEmulatorScale } from './emulator-scale';
import { benchApiLatency } from './api-latency';

const PARTS = ['cold-start', 'bake', 'lifecycle', 'api', 'emulator'] as const;

function motoVersion(): string {
  try {
    const python = process.env.PYTHON ?? 'python3';
    return `moto ${execFileSync(python, ['-c', 'import moto; print(moto.__version__)']).toString().trim()}`;
  } catch {
    return 'moto (version unknown)';
  }
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY;
  if (only && !PARTS.includes(only as (typeof PARTS)[number]))
    throw new Error(`BENCH_ONLY must be one of ${PARTS.join(', ')}`);
  const runs = (part: (typeof PARTS)[number]) => !only || only === part;
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const figures: Figure[] = [];

  if (runs('cold-start')) {
    figures.push(...(await benchColdStart(out)));
    out();
  }
  if (runs('bake') || runs('lifecycle') || runs('api') || runs('emulator')) {
    const local = await startLocalEnvironment('bench');
    try {
      if (!local.control) throw new Error('the benchmark needs the emulator extension (delays, call counts)');
      if (runs('bake')) figures.push(...(await benchBakes(local, out)));
      if (runs('lifecycle')) figures.push(...reportLifecycle(await benchLifecycle(local), out));
      if (runs('api')) figures.push(...(await benchApiLatency(local, out)));
      // Last: it leaves thousands of instances behind.
      if (runs('emulator')) figures.push(...(await benchEmulatorScale(local, out)));
    } finally {
      await local.stop();
    }
  }

  const table = figuresTable(figures);
  const ranOn = `${new Date().toISOString().slice(0, 10)}, ${machine(motoVersion())}`;
  out();
  out(`Summary (${ranOn}):`);
  out();
  out(table);
  if (!only) {
    await replaceSection(
      new URL('../docs/benchmarks.md', import.meta.url).pathname,
      'bench-summary',
      `Latest \`npm run bench\`: ${ranOn}.\n\n${table}`,
    );
    out();
    out('Written to docs/benchmarks.md.');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
