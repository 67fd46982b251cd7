import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FunctionName } from '../../emulator/iam/identities';

const CONTAINER = fileURLToPath(new URL('./lambda-container.ts', import.meta.url));

export interface LocalFunction {
  /** Runs the handler on `event` in the function's container, as Lambda invokes it. */
  invoke(event: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

/** The function's handler failed; `name` and `message` are the handler's own. */
export class LocalInvocationError extends Error {
  constructor(
    readonly functionName: string,
    error: { name: string; message: string },
  ) {
    super(`${functionName}: ${error.name}: ${error.message}`);
    this.name = error.name;
  }
}

interface Reply {
  id?: number;
  ready?: boolean;
  result?: unknown;
  error?: { name: string; message: string };
}

/**
 * Starts a function in a process of its own, with `env` as its whole Lambda environment on top of
 * this one's: two functions of the local stack never share credentials, clients or module state,
 * as two Lambda functions never do.
 */
export async function startLocalFunction(
  name: FunctionName,
  env: Record<string, string>,
): Promise<LocalFunction> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child: ChildProcess = fork(CONTAINER, [name], {
    env: { ...process.env, ...env },
    execArgv: ['--import', tsx],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`the local ${name} function exited (${String(code)}) before it was ready`));
    });
    child.on('message', (reply: Reply) => {
      if (reply.ready) {
        resolve();
        return;
      }
      const waiting = reply.id === undefined ? undefined : pending.get(reply.id);
      if (!waiting || reply.id === undefined) return;
      pending.delete(reply.id);
      if (reply.error) waiting.reject(new LocalInvocationError(name, reply.error));
      else waiting.resolve(reply.result);
    });
  });
  child.on('exit', () => {
    for (const waiting of pending.values()) waiting.reject(new Error(`the local ${name} function exited`));
    pending.clear();
  });
  return {
    invoke: (event) =>
      new Promise((resolve, reject) => {
        next += 1;
        pending.set(next, { resolve, reject });
        child.send({ id: next, event });
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}
