/**
 * `ami-bakery`: the command line for the HTTP API. Exit codes: 0 done (a followed bake
 * succeeded), 1 failed (a refused request, a failed or cancelled bake), 2 usage error.
 */
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import type {
  bakeListResponse,
  bakeResponse,
  pipelinesResponse,
  retentionResponse,
  skippedResponse,
} from '../lib/api/schemas';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ApiClient, ApiError, UnreachableError } from './client';
import { ConsoleNotBuiltError, loadConsoleFiles, startConsole } from './console-server';
import { describeBake, listLines, type Bake } from './format';

const USAGE = `Usage: ami-bakery <command> [options]

Commands
  bake <pipeline> [--reason TEXT] [--force] [--follow]   start a bake (and watch it)
  status <bake-id> [--follow]                          show a bake (and watch it)
  list [--pipeline NAME] [--status PHASE] [--limit N] [--cursor C]
                                                       recent bakes, newest first
  cancel <bake-id>                                     stop a bake
  approve <bake-id> [--comment TEXT]                   let a bake awaiting approval roll out
  reject <bake-id> [--comment TEXT]                    refuse its rollout
  pipelines                                            pipelines, their last bake and current image
  rollout <pipeline> <ami-id> [--reason TEXT] [--follow]  roll an existing image out (rollback)
  retention <pipeline>                                 what the janitor would delete, and why the rest stays
  console [--port N] [--no-open]                       the web console on 127.0.0.1 (ami-bakery console --help)
  help                                                 this text

Options
  --endpoint URL   the API (default: $AMI_BAKERY_URL); localhost is called unsigned over http,
                   anything else over https, signed with SigV4 from the usual AWS credentials
  --region NAME    signing region (default: from the URL, else $AWS_REGION)
  --json           machine-readable output (errors too, as {"error": …})
  --interval MS    how often --follow looks (default 1000)
  --idempotency-key KEY  with bake and rollout: the same key (for 24 h) gives the same bake back
  --version        the CLI's version

Exit codes: 0 done (a followed bake succeeded), 1 failed (a refused request, an unreachable API,
a failed or cancelled bake), 2 usage error.
`;

const CONSOLE_USAGE = `Usage: ami-bakery console [--endpoint URL] [--region NAME] [--port N] [--no-open]

Serves the web console on http://127.0.0.1 and opens it in your browser: pipelines, bakes, a
bake's phases, steps and rollout (live), approvals, cancel, rollbacks and retention plans.

The console's API calls go to the API (--endpoint, default $AMI_BAKERY_URL) through this
process, signed with SigV4 from your own AWS credentials (as kubectl proxy does); nothing in the
cloud stack is opened to the browser. Only 127.0.0.1 listens, and only the page opened from the
printed address (it carries a key made for this run) may call the API through it.

Options
  --port N     the local port (default: any free one)
  --no-open    print the address, do not start a browser
  --endpoint, --region   as for every command

Stop with Ctrl-C.
`;

class UsageError extends Error {}

interface Output {
  readonly json: boolean;
  readonly tty: boolean;
  out(line: string): void;
  err(line: string): void;
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        endpoint: { type: 'string' },
        region: { type: 'string' },
        json: { type: 'boolean', default: false },
        follow: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        reason: { type: 'string' },
        comment: { type: 'string' },
        pipeline: { type: 'string' },
        status: { type: 'string' },
        limit: { type: 'string' },
        interval: { type: 'string', default: '1000' },
        cursor: { type: 'string' },
        'idempotency-key': { type: 'string' },
        port: { type: 'string' },
        'no-open': { type: 'boolean', default: false },
        version: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

function clock(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

/** Watches a bake to its end: each phase and rollout change as a line, a spinner on a terminal. */
async function follow(client: ApiClient, id: string, interval: number, io: Output): Promise<Bake> {
  const started = Date.now();
  let seenPhases = 0;
  const progress = new Map<string, string>();
  let frame = 0;
  let bake: Bake | undefined;
  let spinner: NodeJS.Timeout | undefined;
  const clear = () => {
    if (io.tty) process.stdout.write('\r\x1b[K');
  };
  if (io.tty && !io.json) {
    spinner = setInterval(() => {
      frame += 1;
      const phase = bake?.phase ?? '…';
      process.stdout.write(
        `\r\x1b[K${SPINNER[frame % SPINNER.length] ?? ''} ${phase}  ${clock(Date.now() - started)}`,
      );
    }, 100);
  }
  try {
    for (;;) {
      bake = ((await client.call('GET', `/bakes/${id}`)).body as z.infer<typeof bakeResponse>).bake;
      if (!io.json) {
        // Progress first: a refresh's last step happened before the phase that ends the bake.
        for (const target of bake.rollout ?? []) {
          const waiting = target.status === 'refreshing' && target.reason ? ` (${target.reason})` : '';
          const baking = target.baking ? ' baking' : '';
          const wave =
            (bake.waves ?? []).length > 1 ? `[${bake.waves?.[target.wave ?? 0]?.name ?? ''}] ` : '';
          const line = `${wave}${target.status}${target.percentage !== undefined ? ` ${target.percentage}%` : ''}${baking}${waiting}`;
          if (target.status !== 'pending' && progress.get(target.group) !== line) {
            progress.set(target.group, line);
            clear();
            io.out(`       refresh ${target.group}: ${line}`);
          }
        }
        for (const entry of bake.timeline.slice(seenPhases)) {
          clear();
          io.out(`${clock(Date.parse(entry.at) - Date.parse(bake.createdAt))}  ${entry.phase}`);
        }
        seenPhases = bake.timeline.length;
      }
      if (TERMINAL.has(bake.phase)) return bake;
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  } finally {
    if (spinner) clearInterval(spinner);
    clear();
  }
}

function one(positionals: string[], count: number, what: string): string[] {
  if (positionals.length > count)
    throw new UsageError(`too many arguments: ${positionals.slice(count).join(' ')} (expected ${what})`);
  if (positionals.length < count) throw new UsageError(`expected ${what}`);
  return positionals;
}

const COMMANDS = [
  'bake',
  'status',
  'list',
  'cancel',
  'approve',
  'reject',
  'pipelines',
  'rollout',
  'retention',
  'console',
  'help',
];

/** The command a typo most likely meant (at most two edits away), for "did you mean". */
export function closest(word: string, choices: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    let row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i += 1) {
      const next = [i];
      for (let j = 1; j <= b.length; j += 1)
        next[j] = Math.min(
          (row[j] ?? 0) + 1,
          (next[j - 1] ?? 0) + 1,
          (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
      row = next;
    }
    return row[b.length] ?? Infinity;
  };
  const ranked = choices.map((choice) => ({ choice, d: distance(word, choice) })).sort((x, y) => x.d - y.d);
  return ranked[0] && ranked[0].d <= 2 ? ranked[0].choice : undefined;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The command that opens a URL in the desktop's browser, by platform. */
function browserCommand(url: string): [string, string[]] {
  if (process.platform === 'darwin') return ['open', [url]];
  if (process.platform === 'win32') return ['cmd', ['/c', 'start', '""', url]];
  return ['xdg-open', [url]];
}

/** `ami-bakery console`: serves the console until Ctrl-C; 0 when stopped so. */
async function serveConsoleUntilStopped(
  client: ApiClient,
  portOption: string | undefined,
  open: boolean,
  io: Output,
): Promise<number> {
  const port = portOption === undefined ? 0 : Number(portOption);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port: a port number from 0 to 65535, not ${portOption ?? ''}`);
  let files: ReturnType<typeof loadConsoleFiles>;
  try {
    files = loadConsoleFiles();
  } catch (error) {
    if (error instanceof ConsoleNotBuiltError) throw new UsageError(error.message);
    throw error;
  }
  const running = await startConsole({
    files,
    port,
    forward: async (request) => {
      const answer = await client.send(request.method, request.path, request);
      return { status: answer.status, headers: Object.fromEntries(answer.headers), body: answer.text };
    },
  });
  if (io.json) io.out(JSON.stringify({ url: running.url }));
  else
    io.out(
      `ami-bakery console: ${running.url}\n  (only this address works: it carries this run's key; Ctrl-C stops)`,
    );
  if (open) {
    const [command, args] = browserCommand(running.url);
    // No browser (a server, CI) is not a failure: the address is printed.
    spawn(command, args, { stdio: 'ignore', detached: true })
      .on('error', () => undefined)
      .unref();
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.stop();
  return 0;
}

async function finishWith(
  client: ApiClient,
  bake: Bake,
  follows: boolean,
  interval: number,
  io: Output,
): Promise<number> {
  if (!follows) {
    if (io.json) io.out(JSON.stringify({ bake }, null, 2));
    else {
      for (const line of describeBake(bake)) io.out(line);
      if (!TERMINAL.has(bake.phase)) io.out(`watch it: ami-bakery status ${bake.id} --follow`);
    }
    return 0;
  }
  if (!io.json) io.out(`${bake.id}  ${bake.kind} of ${bake.pipeline}`);
  const done = await follow(client, bake.id, interval, io);
  if (io.json) io.out(JSON.stringify({ bake: done }, null, 2));
  else for (const line of describeBake(done)) io.out(line);
  return done.phase === 'succeeded' ? 0 : 1;
}

export async function run(argv: string[], io: Output): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.version) {
    io.out(io.json ? JSON.stringify({ version: version() }) : `ami-bakery ${version()}`);
    return 0;
  }
  if (values.help && command === 'console') {
    io.out(CONSOLE_USAGE);
    return 0;
  }
  if (values.help || command === 'help' || !command) {
    io.out(USAGE);
    return command || values.help ? 0 : 2;
  }
  if (!COMMANDS.includes(command)) {
    const guess = closest(command, COMMANDS);
    throw new UsageError(`unknown command: ${command}${guess ? ` (did you mean ${guess}?)` : ''}`);
  }
  if (values.limit !== undefined && !/^(100|[1-9]\d?)$/.test(values.limit))
    throw new UsageError(`--limit: a whole number from 1 to 100, not ${values.limit}`);
  const idempotency = values['idempotency-key']
    ? { 'idempotency-key': values['idempotency-key'] }
    : undefined;
  const endpoint = values.endpoint ?? process.env.AMI_BAKERY_URL;
  if (!endpoint) throw new UsageError('no API: pass --endpoint or set AMI_BAKERY_URL');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`not a URL: ${endpoint}`);
  }
  const interval = Number(values.interval);
  if (!Number.isInteger(interval) || interval < 50)
    throw new UsageError('--interval: milliseconds, at least 50');
  let client: ApiClient;
  try {
    client = new ApiClient(url, values.region);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const answer = async (method: string, path: string, options: Parameters<ApiClient['call']>[2] = {}) =>
    (await client.call(method, path, options)).body;

  switch (command) {
    case 'bake': {
      const [pipeline = ''] = one(rest, 1, 'bake <pipeline>');
      const body = await answer('POST', '/bakes', {
        body: {
          pipeline,
          ...(values.reason ? { reason: values.reason } : {}),
          ...(values.force ? { force: true } : {}),
        },
        ...(idempotency ? { headers: idempotency } : {}),
      });
      if ('skipped' in (body as object)) {
        const skipped = body as z.infer<typeof skippedResponse>;
        if (io.json) io.out(JSON.stringify(skipped, null, 2));
        else io.out(`skipped: ${skipped.reason} (use --force to bake anyway)`);
        return 0;
      }
      return finishWith(client, (body as z.infer<typeof bakeResponse>).bake, values.follow, interval, io);
    }
    case 'status': {
      const [id = ''] = one(rest, 1, 'status <bake-id>');
      const { bake } = (await answer('GET', `/bakes/${encodeURIComponent(id)}`)) as z.infer<
        typeof bakeResponse
      >;
      return finishWith(client, bake, values.follow, interval, io);
    }
    case 'list': {
      one(rest, 0, 'list [--pipeline NAME] [--status PHASE] [--limit N] [--cursor C]');
      const query: Record<string, string> = {};
      if (values.pipeline) query.pipeline = values.pipeline;
      if (values.status) query.status = values.status;
      if (values.limit) query.limit = values.limit;
      if (values.cursor) query.cursor = values.cursor;
      const page = (await answer('GET', '/bakes', { query })) as z.infer<typeof bakeListResponse>;
      if (io.json) io.out(JSON.stringify(page, null, 2));
      else {
        for (const line of listLines(page.bakes)) io.out(line);
        if (page.next) {
          const again = argv.filter((arg, i) => arg !== '--cursor' && argv[i - 1] !== '--cursor');
          io.out(`more: ami-bakery ${[...again, '--cursor', page.next].join(' ')}`);
        }
      }
      return 0;
    }
    case 'cancel':
    case 'approve':
    case 'reject': {
      const [id = ''] = one(rest, 1, `${command} <bake-id>`);
      const body =
        command === 'cancel' ? undefined : { ...(values.comment ? { comment: values.comment } : {}) };
      const { bake } = (await answer('POST', `/bakes/${encodeURIComponent(id)}/${command}`, {
        ...(body ? { body } : {}),
      })) as z.infer<typeof bakeResponse>;
      return finishWith(client, bake, false, interval, io);
    }
    case 'pipelines': {
      one(rest, 0, 'pipelines');
      const { pipelines } = (await answer('GET', '/pipelines')) as z.infer<typeof pipelinesResponse>;
      if (io.json) io.out(JSON.stringify({ pipelines }, null, 2));
      else
        for (const p of pipelines) {
          const last = p.lastBake ? `${p.lastBake.id} ${p.lastBake.phase}` : 'never baked';
          io.out(`${p.name.padEnd(16)} ${(p.currentImageId ?? '-').padEnd(22)} last: ${last}`);
        }
      return 0;
    }
    case 'rollout': {
      const [pipeline = '', amiId = ''] = one(rest, 2, 'rollout <pipeline> <ami-id>');
      const { bake } = (await answer('POST', '/rollouts', {
        body: { pipeline, amiId, ...(values.reason ? { reason: values.reason } : {}) },
        ...(idempotency ? { headers: idempotency } : {}),
      })) as z.infer<typeof bakeResponse>;
      return finishWith(client, bake, values.follow, interval, io);
    }
    case 'retention': {
      const [pipeline = ''] = one(rest, 1, 'retention <pipeline>');
      const { plan } = (await answer('GET', `/retention/${encodeURIComponent(pipeline)}`)) as z.infer<
        typeof retentionResponse
      >;
      if (io.json) io.out(JSON.stringify({ plan }, null, 2));
      else {
        for (const image of plan.delete) io.out(`delete  ${image.imageId}  ${image.region}  ${image.name}`);
        for (const image of plan.keep)
          io.out(`keep    ${image.imageId}  ${image.region}  ${image.reasons.join('; ')}`);
        io.out(`${plan.delete.length} to delete (${plan.reclaimGiB} GiB), ${plan.keep.length} kept`);
      }
      return 0;
    }
    case 'console': {
      one(rest, 0, 'console');
      return serveConsoleUntilStopped(client, values.port, !values['no-open'], io);
    }
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

/** Runs the CLI with the process's arguments and streams; resolves to the exit code. */
export async function main(argv = process.argv.slice(2)): Promise<number> {
  const json = argv.includes('--json');
  const io: Output = {
    json,
    tty: process.stdout.isTTY,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
  try {
    return await run(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      if (json) io.out(JSON.stringify({ error: { title: 'Usage', detail: error.message } }, null, 2));
      io.err(`ami-bakery: ${error.message}\nRun 'ami-bakery help' for usage.`);
      return 2;
    }
    if (error instanceof ApiError) {
      if (json) io.out(JSON.stringify({ error: error.problem }, null, 2));
      io.err(`ami-bakery: ${error.message}`);
      return 1;
    }
    if (error instanceof UnreachableError) {
      if (json)
        io.out(
          JSON.stringify({ error: { title: 'Unreachable', detail: error.message, url: error.url } }, null, 2),
        );
      io.err(`ami-bakery: ${error.message} (is the API running? locally: npm run dev)`);
      return 1;
    }
    io.err(`ami-bakery: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
