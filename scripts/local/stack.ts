import type { ConsoleFile } from '../../cli/console-server';
import type { EmulatorDelays } from '../../emulator/control';
import { readAwsSettings } from '../../lib/aws/settings';
import { startLocalApi, type LocalApi } from './api-server';
import { startLocalEnvironment, type LocalEnvironment } from './environment';
import { startLocalFunction } from './lambda';
import { startLocalTriggers, type LocalTriggers } from './triggers';

/** The emulated AWS waits of `npm run dev` (and its screenshots): short, but each one visible. */
export const DEV_DELAYS: EmulatorDelays = {
  'ec2.instance.pending': 2,
  'ssm.agent.online': 1,
  'ssm.command.pending': 0.5,
  'ssm.command.in-progress': 2,
  'ssm.invocation.visible': 0.3,
  'ec2.instance.stopping': 2,
  'ec2.image.pending': 4,
};

export interface LocalStack {
  readonly local: LocalEnvironment;
  readonly triggers: LocalTriggers;
  readonly api: LocalApi;
  stop(): Promise<void>;
}

/**
 * Everything `serverless deploy` stands up, on this machine: the emulator (or AWS_ENDPOINT_URL)
 * with the sandbox fleet, the reconcile function on its three triggers, and the api function
 * on localhost. Shared by `npm run demo` and `npm run dev`.
 */
export async function startLocalStack(
  name: string,
  options: {
    delays?: EmulatorDelays;
    timeScale?: number;
    sweepSeconds?: number;
    port?: number;
    /** The built web console, served under /console/ of the API. */
    console?: ReadonlyMap<string, ConsoleFile>;
  } = {},
): Promise<LocalStack> {
  const local = await startLocalEnvironment(name);
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  // Each function in a container of its own, with its own credentials (its packaged role).
  const [reconcile, api] = await Promise.all([
    startLocalFunction('reconcile', local.functionEnv('reconcile')),
    startLocalFunction('api', local.functionEnv('api')),
  ]);
  const triggers = await startLocalTriggers({
    invoke: (event: unknown) => reconcile.invoke(event),
    sqs: local.aws.sqs,
    timerQueueUrl: local.timerQueueUrl,
    events: true,
    timers: true,
    sweepSeconds: options.sweepSeconds ?? 5,
    region: readAwsSettings().region,
  });
  if (local.control) {
    await local.control.configure({
      ...(options.delays ? { delays: options.delays } : {}),
      eventsUrl: triggers.eventsUrl ?? null,
      ...(options.timeScale !== undefined ? { timeScale: options.timeScale } : {}),
    });
  }
  const server = await startLocalApi((event) => api.invoke(event), options.port ?? 0, {
    ...(options.console ? { console: options.console } : {}),
  });
  return {
    local,
    triggers,
    api: server,
    stop: async () => {
      await server.stop();
      await triggers.stop();
      await Promise.all([reconcile.stop(), api.stop()]);
      await local.stop();
    },
  };
}
