/**
 * `npm run bench` (cold-start part): each function bundled as serverless.yml bundles it
 * (esbuild: CJS, minified, node22, mainFields module/main, AWS SDK included), its size, and the
 * time Node takes to load it in a fresh process (median of RUNS), against an empty handler
 * bundled the same way. Targets: bundle <= 1 MB; init <= 1.5 x the empty handler's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build, type Metafile } from 'esbuild';

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
const root = new URL('..', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'ami-bakery-cold-'));

async function bundle(entry: string): Promise<{ file: string; bytes: number; metafile: Metafile }> {
  const file = join(out, `${basename(entry, '.ts')}.js`);
  const result = await build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    mainFields: ['module', 'main'],
    metafile: true,
    logLevel: 'silent',
  });
  return { file, bytes: statSync(file).size, metafile: result.metafile };
}

/** Milliseconds to require the bundle in a fresh Node process (module init only), median of RUNS. */
function initMs(file: string): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const samples = Array.from({ length: RUNS }, () =>
    Number(
      execFileSync(process.execPath, ['-e', script], {
        env: { ...process.env, AWS_REGION: 'us-east-1' },
      }).toString(),
    ),
  ).sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? 0;
}

/** The packages that weigh most in a bundle (esbuild metafile), for a function over its target. */
function heaviest(metafile: Metafile, count = 5): string {
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

async function main(): Promise<void> {
  const say = (line = '') => process.stdout.write(`${line}\n`);
  const empty = await bundle(join(root, 'bench/empty-handler.ts'));
  const baseline = initMs(empty.file);
  const functions = readdirSync(join(root, 'functions'))
    .filter((f) => f.endsWith('.ts'))
    .sort();
  say(
    `Cold start (module init, median of ${RUNS} fresh Node ${process.version} processes); empty handler: ${(empty.bytes / 1024).toFixed(1)} KiB, ${baseline.toFixed(1)} ms`,
  );
  say();
  say('| function | bundle (KiB) | target | init (ms) | × empty handler | target | heaviest parts |');
  say('| --- | --- | --- | --- | --- | --- | --- |');
  for (const name of functions) {
    const built = await bundle(join(root, 'functions', name));
    const ms = initMs(built.file);
    say(
      `| ${basename(name, '.ts')} | ${(built.bytes / 1024).toFixed(0)} | <= 1024 | ${ms.toFixed(1)} | ${(ms / baseline).toFixed(2)} | <= 1.5 | ${heaviest(built.metafile)} |`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
