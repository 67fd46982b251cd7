import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';

/** The moto version the emulator and its extensions are written against. */
export const REQUIRED_MOTO_VERSION = '5.2.1';
export const MOTO_INSTALL_HINT = `pip install "moto[server]==${REQUIRED_MOTO_VERSION}"`;

const LAUNCHER = fileURLToPath(new URL('./server.py', import.meta.url));
const AUTHORIZER = fileURLToPath(new URL('./iam/sidecar.ts', import.meta.url));

/**
 * The identity fixtures and sandbox setup use: the emulator never checks it. Every function runs
 * with credentials of its own, registered with its packaged role (see `emulator/iam/identities.ts`);
 * any other access key is refused as AWS refuses an unknown one.
 */
export const ADMIN_CREDENTIALS = {
  accessKeyId: 'ami-bakery-admin',
  secretAccessKey: 'ami-bakery-admin',
} as const;

export interface EmulatorOptions {
  /** Python interpreter; `AMI_BAKERY_PYTHON` or `python3` by default. */
  readonly python?: string;
  /** Port to bind on 127.0.0.1; 0 (the default) lets the OS pick a free one. */
  readonly port?: number;
  /** Environment of the emulator process (defaults to this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for the emulator to accept connections. */
  readonly startTimeoutMs?: number;
  /** Keep running after this process's stdin closes (only for `npm run emulator`). */
  readonly detachFromStdin?: boolean;
}

export interface RunningEmulator {
  /** Base URL for `AWS_ENDPOINT_URL`, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Stops the emulator and waits for its process to exit. */
  stop(): Promise<void>;
}

/** The emulator could not start: Python or moto is missing, or the launcher failed. */
export class EmulatorStartError extends Error {
  override readonly name = 'EmulatorStartError';
}

interface LauncherStatus {
  ready: boolean;
  port?: number;
  error?: string;
}

/**
 * Starts the emulator (moto, hosted by `emulator/server.py`) on 127.0.0.1.
 * @throws EmulatorStartError with the exact install instruction when Python or moto is missing.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const python = options.python ?? process.env.AMI_BAKERY_PYTHON ?? 'python3';
  const args = [LAUNCHER, '--host', '127.0.0.1', '--port', String(options.port ?? 0)];
  // The IAM evaluator runs on this very Node, with the TypeScript loader this process has.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  args.push('--authorizer', JSON.stringify([process.execPath, '--import', tsx, AUTHORIZER]));
  if (options.detachFromStdin) args.push('--no-stdin-watch');

  const child = spawn(python, args, {
    env: { ...emulatorEnvironment(options.env ?? process.env), PYTHONUNBUFFERED: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  const log = process.env.AMI_BAKERY_EMULATOR_LOG
    ? createWriteStream(process.env.AMI_BAKERY_EMULATOR_LOG)
    : undefined;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    log?.write(chunk);
    stderr.push(chunk);
    if (stderr.length > 200) stderr.shift();
  });

  const status = await Promise.race([
    firstStatusLine(child),
    spawnFailure(child, python),
    timeout(options.startTimeoutMs ?? 30_000, child),
  ]);
  if (!status.ready || status.port === undefined) {
    child.kill('SIGKILL');
    const detail = status.error ?? `the launcher exited without starting.\n${stderr.join('').trim()}`;
    throw new EmulatorStartError(`Cannot start the AWS emulator: ${detail}`);
  }
  const port = status.port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    stop: () => stopChild(child),
  };
}

/**
 * The caller's AWS settings (a profile, an endpoint pointing at the emulator itself) mean
 * nothing to moto and can break its botocore, so none of them reach the emulator.
 */
function emulatorEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('AWS_')));
}

async function firstStatusLine(child: ChildProcess): Promise<LauncherStatus> {
  if (!child.stdout) throw new EmulatorStartError('the launcher has no stdout');
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    lines.close();
    return JSON.parse(trimmed) as LauncherStatus;
  }
  return { ready: false };
}

async function spawnFailure(child: ChildProcess, python: string): Promise<LauncherStatus> {
  const [error] = (await once(child, 'error')) as [NodeJS.ErrnoException];
  if (error.code === 'ENOENT') {
    return {
      ready: false,
      error: `${python} was not found. The emulator needs Python 3 with moto ${REQUIRED_MOTO_VERSION}: install Python 3, then ${MOTO_INSTALL_HINT}`,
    };
  }
  return { ready: false, error: `${python} could not be started: ${error.message}` };
}

async function timeout(ms: number, child: ChildProcess): Promise<LauncherStatus> {
  await new Promise((resolve) => setTimeout(resolve, ms).unref());
  return { ready: false, error: `no answer within ${ms} ms (pid ${child.pid ?? '?'})` };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin?.end(); // the launcher shuts down when its stdin closes
  child.kill('SIGTERM');
  const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(force);
}

/** Clears every account's state in the emulator (moto's reset API). */
export async function resetEmulator(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (!response.ok) throw new Error(`emulator reset failed: HTTP ${response.status}`);
}
