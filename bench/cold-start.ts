/**
 * Cold start (part of `npm run bench`): each function bundled as serverless.yml bundles it
 * (build/bundle.ts: minified CJS, AWS SDK included, linked source map), its size, and the time
 * Node takes to load it in a fresh process (median of RUNS, the bundles taking turns so that
 * machine noise falls on all alike), against an empty handler bundled the same way. Targets:
 * bundle <= 1 MB; init <= 1.5 x the empty handler's. Two references: the smallest handler that
 * talks to AWS (one client), and the reconcile bundle loaded with --enable-source-maps.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Metafile } from 'esbuild';
import { bundleFunction } from '../build/bundle';
import { percentile, type Figure, type Out } from './figures';

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 21);
const KIB_TARGET = 1024;
const RATIO_TARGET = 1.5;
const COMMAND = 'BENCH_ONLY=cold-start npm run bench';
const root = new URL('..', import.meta.url).pathname;

interface Bundle {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly metafile: Metafile;
  readonly nodeOptions: readonly string[];
}

async function bundle(out: string, entry: string, name = basename(entry, '.ts')): Promise<Bundle> {
  const { file, metafile } = await bundleFunction(entry, join(out, `${name}.js`));
  return { name, file, bytes: statSync(file).size, metafile, nodeOptions: [] };
}

/** Milliseconds to require the bundle in a fresh Node process (module init only). */
function initOnce(target: Bundle): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(target.file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  return Number(
    execFileSync(process.execPath, [...target.nodeOptions, '-e', script], {
      env: { ...process.env, AWS_REGION: 'us-east-1', NODE_OPTIONS: '' },
      // The SDK warns on stderr that Node 20 support ends (Lambda runs Node 22): not ours to print.
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString(),
  );
}

/** Median init time of each bundle; the bundles take turns, RUNS rounds. */
function initMedians(targets: readonly Bundle[]): Map<Bundle, number> {
  const samples = new Map(targets.map((t) => [t, [] as number[]]));
  for (let run = 0; run < RUNS; run += 1) for (const t of targets) samples.get(t)?.push(initOnce(t));
  return new Map([...samples].map(([t, values]) => [t, percentile(values, 50)]));
}

/** The packages that weigh most in a bundle (esbuild metafile). */
function heaviest(metafile: Metafile, count = 4): string {
  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const name = match?.[1] ?? '(own code)';
      byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)} KiB`)
    .join(', ');
}

const kib = (bytes: number) => bytes / 1024;

export async function benchColdStart(out: Out): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ami-bakery-cold-'));
  const empty = await bundle(dir, join(root, 'bench/empty-handler.ts'));
  const oneClient = await bundle(dir, join(root, 'bench/one-client-handler.ts'));
  const functions: Bundle[] = [];
  for (const name of readdirSync(join(root, 'functions'))
    .filter((f) => f.endsWith('.ts'))
    .sort())
    functions.push(await bundle(dir, join(root, 'functions', name)));
  const reconcile = functions.find((f) => f.name === 'reconcile');
  if (!reconcile) throw new Error('no reconcile function');
  const withMaps: Bundle = { ...reconcile, nodeOptions: ['--enable-source-maps'] };
  const init = initMedians([empty, oneClient, ...functions, withMaps]);
  const ms = (b: Bundle) => init.get(b) ?? 0;
  const baseline = ms(empty);

  out(
    `Cold start: module init, median of ${RUNS} fresh Node ${process.version} processes; empty handler ${kib(empty.bytes).toFixed(1)} KiB, ${baseline.toFixed(1)} ms`,
  );
  out();
  out('| bundle | size (KiB) | target | init (ms) | × empty handler | target | heaviest parts |');
  out('| --- | --- | --- | --- | --- | --- | --- |');
  for (const f of functions) {
    out(
      `| ${f.name} | ${kib(f.bytes).toFixed(0)} | <= ${KIB_TARGET} | ${ms(f).toFixed(1)} | ${(ms(f) / baseline).toFixed(2)} | <= ${RATIO_TARGET} | ${heaviest(f.metafile)} |`,
    );
  }
  out(
    `| reference: one SDK client (DynamoDB GetItem) | ${kib(oneClient.bytes).toFixed(0)} | - | ${ms(oneClient).toFixed(1)} | ${(ms(oneClient) / baseline).toFixed(2)} | - | ${heaviest(oneClient.metafile)} |`,
  );
  out(
    `| reference: reconcile with --enable-source-maps | ${kib(reconcile.bytes).toFixed(0)} | - | ${ms(withMaps).toFixed(1)} | ${(ms(withMaps) / baseline).toFixed(2)} | - | map ${kib(statSync(`${reconcile.file}.map`).size).toFixed(0)} KiB read at load |`,
  );

  const largest = functions.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const slowest = functions.reduce((a, b) => (ms(b) > ms(a) ? b : a));
  return [
    {
      figure: 'largest function bundle',
      value: `${kib(largest.bytes).toFixed(0)} KiB (${largest.name})`,
      target: `<= ${KIB_TARGET} KiB`,
      met: functions.every((f) => kib(f.bytes) <= KIB_TARGET),
      command: COMMAND,
    },
    {
      figure: 'slowest function module init',
      value: `${ms(slowest).toFixed(1)} ms = ${(ms(slowest) / baseline).toFixed(1)} × empty handler (${baseline.toFixed(1)} ms) (${slowest.name})`,
      target: `<= ${RATIO_TARGET} × empty handler`,
      met: functions.every((f) => ms(f) / baseline <= RATIO_TARGET),
      command: COMMAND,
    },
    {
      figure: 'slowest function module init against the one-SDK-client reference',
      value: `${(ms(slowest) / ms(oneClient)).toFixed(2)} × (${slowest.name})`,
      target: '-',
      command: COMMAND,
    },
    {
      figure: 'module init, one-SDK-client reference handler',
      value: `${ms(oneClient).toFixed(1)} ms = ${(ms(oneClient) / baseline).toFixed(1)} × empty handler`,
      target: '-',
      command: COMMAND,
    },
    {
      figure: 'cost of --enable-source-maps at init (reconcile)',
      value: `+${(ms(withMaps) - ms(reconcile)).toFixed(1)} ms`,
      target: '-',
      command: COMMAND,
    },
  ];
}
