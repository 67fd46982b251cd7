/**
 * Cold start (part of `npm run bench`): each function of serverless.yml bundled as it bundles it
 * (build/bundle.ts: minified CJS, AWS SDK included, linked source map), its size, and the time
 * Node takes to load it in a fresh process (median of RUNS, the bundles taking turns so that
 * machine noise falls on all alike). Targets: bundle <= 1 MB; init <= 1.3 x the one-SDK-client
 * reference (the smallest handler that talks to AWS). References: an empty handler; that one
 * client; for each function, the AWS SDK clients it uses and nothing else (each with one
 * command: the floor for that function); the reconcile bundle loaded with --enable-source-maps.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Metafile } from 'esbuild';
import { parse } from 'yaml';
import { bundleFunction, sdkClientsOf as clientsOf } from '../build/bundle';
import { percentile, type Figure, type Out } from './figures';

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 21);
const KIB_TARGET = 1024;
/** The issue's target: every function's init within 1.3 x the one-SDK-client reference's. */
const RATIO_TARGET = 1.3;
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

/** The entry files of serverless.yml's functions (`functions/api.handler` -> functions/api.ts). */
function functionEntries(): string[] {
  const stack = parse(readFileSync(join(root, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as {
    functions: Record<string, { handler: string }>;
  };
  return Object.values(stack.functions)
    .map(({ handler }) => join(root, `${handler.slice(0, handler.lastIndexOf('.'))}.ts`))
    .sort();
}

/** One command of each client, so that a client's floor includes the protocol code a call needs. */
const ONE_COMMAND: Record<string, [client: string, command: string]> = {
  'client-auto-scaling': ['AutoScalingClient', 'DescribeAutoScalingGroupsCommand'],
  'client-dynamodb': ['DynamoDBClient', 'GetItemCommand'],
  'client-ec2': ['EC2Client', 'DescribeInstancesCommand'],
  'client-kms': ['KMSClient', 'DescribeKeyCommand'],
  'client-sns': ['SNSClient', 'PublishCommand'],
  'client-sqs': ['SQSClient', 'SendMessageCommand'],
  'client-ssm': ['SSMClient', 'GetParameterCommand'],
  'client-sts': ['STSClient', 'AssumeRoleCommand'],
};

/**
 * A handler that loads the given clients, builds each and makes one call with each: what a
 * function that talks to these services cannot start faster than.
 */
async function clientsFloor(out: string, name: string, clients: readonly string[]): Promise<Bundle> {
  const lines = clients.map((client, index) => {
    const known = ONE_COMMAND[client];
    if (!known) throw new Error(`bench/cold-start.ts: add a command of @aws-sdk/${client} to ONE_COMMAND`);
    const [Client, Command] = known;
    return `import { ${Client} as C${index}, ${Command} as K${index} } from ${JSON.stringify(join(root, 'node_modules/@aws-sdk', client))};`;
  });
  const calls = clients.map((_, index) => `new C${index}({}).send(new K${index}({} as never))`);
  const entry = join(out, `${name}.ts`);
  writeFileSync(
    entry,
    `${lines.join('\n')}\nexport const handler = async (): Promise<unknown> => Promise.all([${calls.join(', ')}]);\n`,
  );
  return bundle(out, entry, name);
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
  for (const entry of functionEntries()) functions.push(await bundle(dir, entry));
  const floors = new Map<Bundle, Bundle>();
  for (const f of functions)
    floors.set(f, await clientsFloor(dir, `${f.name}-clients`, clientsOf(f.metafile)));
  const reconcile = functions.find((f) => f.name === 'reconcile');
  if (!reconcile) throw new Error('no reconcile function');
  const withMaps: Bundle = { ...reconcile, nodeOptions: ['--enable-source-maps'] };
  const init = initMedians([empty, oneClient, ...functions, ...floors.values(), withMaps]);
  const ms = (b: Bundle) => init.get(b) ?? 0;
  const baseline = ms(empty);
  const reference = ms(oneClient);
  const floorOf = (f: Bundle): Bundle => floors.get(f) ?? f;

  out(
    `Cold start: module init, median of ${RUNS} fresh Node ${process.version} processes; empty handler ${kib(empty.bytes).toFixed(1)} KiB, ${baseline.toFixed(1)} ms`,
  );
  out();
  out(
    '| bundle | size (KiB) | init (ms) | × one-client reference | target | its clients alone: init (ms), × reference | heaviest parts |',
  );
  out('| --- | --- | --- | --- | --- | --- | --- |');
  for (const f of functions) {
    const floor = floorOf(f);
    out(
      `| ${f.name} | ${kib(f.bytes).toFixed(0)} | ${ms(f).toFixed(1)} | ${(ms(f) / reference).toFixed(2)} | <= ${RATIO_TARGET} | ${ms(floor).toFixed(1)}, ${(ms(floor) / reference).toFixed(2)} (${clientsOf(f.metafile).join(', ')}) | ${heaviest(f.metafile)} |`,
    );
  }
  out(
    `| reference: one SDK client (DynamoDB GetItem) | ${kib(oneClient.bytes).toFixed(0)} | ${reference.toFixed(1)} | 1 | - | - | ${heaviest(oneClient.metafile)} |`,
  );
  out(
    `| reference: empty handler | ${kib(empty.bytes).toFixed(1)} | ${baseline.toFixed(1)} | ${(baseline / reference).toFixed(2)} | - | - | - |`,
  );
  out(
    `| reference: reconcile with --enable-source-maps | ${kib(reconcile.bytes).toFixed(0)} | ${ms(withMaps).toFixed(1)} | ${(ms(withMaps) / reference).toFixed(2)} | - | - | map ${kib(statSync(`${reconcile.file}.map`).size).toFixed(0)} KiB read at load |`,
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
      figure: 'slowest function module init, against the one-SDK-client reference',
      value: `${(ms(slowest) / reference).toFixed(2)} × (${slowest.name}, ${ms(slowest).toFixed(1)} ms)`,
      target: `<= ${RATIO_TARGET} ×`,
      met: functions.every((f) => ms(f) / reference <= RATIO_TARGET),
      command: COMMAND,
    },
    {
      figure: `the same function's AWS SDK clients alone (its floor), against the reference`,
      value: `${(ms(floorOf(slowest)) / reference).toFixed(2)} × (${ms(floorOf(slowest)).toFixed(1)} ms: ${clientsOf(slowest.metafile).length} clients)`,
      target: '-',
      command: COMMAND,
    },
    {
      figure: 'module init, one-SDK-client reference handler',
      value: `${reference.toFixed(1)} ms (empty handler: ${baseline.toFixed(1)} ms)`,
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
