/**
 * One table for every benchmark (issue 9): each benchmark returns its figures, the runner
 * (bench/run.ts) prints them together and writes them into docs/benchmarks.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import * as prettier from 'prettier';

export interface Figure {
  readonly figure: string;
  readonly value: string;
  /** The target as written in the issue, or '-' for a figure reported without one. */
  readonly target: string;
  /** Whether the value meets the target; undefined when there is none. */
  readonly met?: boolean;
  readonly command: string;
}

/** Output of a benchmark's detail lines (the runner prints them before the table). */
export type Out = (line?: string) => void;

/** The p-th percentile of some samples (nearest rank); p = 50 is the median. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

export function figuresTable(figures: readonly Figure[]): string {
  const verdict = (f: Figure) => (f.met === undefined ? '-' : f.met ? 'met' : '**missed**');
  return [
    '| figure | value | target | verdict | command |',
    '| --- | --- | --- | --- | --- |',
    ...figures.map(
      (f) =>
        `| ${cell(f.figure)} | ${cell(f.value)} | ${cell(f.target)} | ${verdict(f)} | \`${f.command}\` |`,
    ),
  ].join('\n');
}

/** The machine a run happened on, in one line. */
export function machine(emulator: string): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const gib = Math.round(totalmem() / 2 ** 30);
  return `${availableParallelism()} cores (${cpu}), ${gib} GiB, Node ${process.version}, ${emulator}`;
}

/**
 * Replaces the text between `<!-- name:start -->` and `<!-- name:end -->` in `file`, and formats
 * the page as `npm run lint` expects.
 * @throws Error when the markers are missing (the page was edited by hand and lost them).
 */
export async function replaceSection(file: string, name: string, body: string): Promise<void> {
  const text = readFileSync(file, 'utf8');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file} has no ${start} ... ${end} section`);
  const replaced = `${text.slice(0, from + start.length)}\n\n${body}\n\n${text.slice(to)}`;
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(replaced, { ...options, filepath: file }));
}
