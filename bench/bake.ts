/**
 * Part of `npm run bench` (bench/run.ts): what the reconciler costs on top of AWS's own waits,
 * and how many AWS calls a bake makes. Runs against the emulator bench/run.ts starts (or
 * AWS_ENDPOINT_URL) with emulated delays; the engine is driven through the same three triggers
 * as in AWS.
 *
 *   overhead per wait = (bake wall time - sum of emulated waits) / number of waits
 *
 * measured three ways: events on (events + timers + sweep); timers alone (+ sweep); sweep alone.
 * Then: AWS calls of one bake by service and action, and the EC2 Describe calls of one
 * reconcile pass over 100 in-flight bakes.
 */
import { pipelines } from '../config/pipelines';
import type { EmulatorDelays } from '../emulator/control';
import { createBakery } from '../functions/bakery';
import { crossAccount } from '../lib/aws/cross-account';
import { isTerminal } from '../lib/bake/model';
import { reconcile, startBake, type Bakery } from '../lib/bake/service';
import { parseTrigger } from '../lib/triggers/parse';
import { wake } from '../lib/triggers/wake';
import { loadPipelines, PipelineCatalog } from '../lib/pipeline/catalog';
import type { LocalEnvironment } from '../scripts/local/environment';
import { startLocalTriggers } from '../scripts/local/triggers';
import type { Figure, Out } from './figures';
import type { LifecycleBench } from './lifecycle';

const DELAYS: Required<EmulatorDelays> = {
  'ec2.instance.pending': 2,
  'ssm.agent.online': 1,
  'ssm.command.pending': 0.5,
  'ssm.command.in-progress': 1.5,
  'ssm.invocation.visible': 0.2,
  'ec2.instance.stopping': 2,
  'ec2.image.pending': 3,
  'ec2.instance.shutting-down': 0,
};
// The `minimal` pipeline: one provisioning and one validation step.
const STEPS = 2;
const WAITS = 3 + STEPS; // instance + agent, each step, stopping, image
const EMULATED_SECONDS =
  DELAYS['ec2.instance.pending'] +
  DELAYS['ssm.agent.online'] +
  STEPS * (DELAYS['ssm.command.pending'] + DELAYS['ssm.command.in-progress']) +
  DELAYS['ec2.instance.stopping'] +
  DELAYS['ec2.image.pending'];
const SWEEP_SECONDS = Number(process.env.BENCH_SWEEP_SECONDS ?? 5);

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface ModeResult {
  readonly mode: string;
  readonly wallSeconds: number;
  readonly overheadPerWait: number;
  readonly passes: { events: number; timers: number; sweeps: number };
  readonly calls: Record<string, Record<string, number>>;
}

/** The engine as the reconcile function and as the api function (each signed as itself). */
interface Engines {
  readonly bakery: Bakery;
  readonly api: Bakery;
}

async function bakeOnce(
  local: LocalEnvironment,
  { bakery, api }: Engines,
  mode: 'events' | 'timers' | 'sweep',
): Promise<ModeResult> {
  const triggers = await startLocalTriggers({
    // The handler's work without its Lambda wrapper: a fresh engine per mode, same code path.
    invoke: async (event) => {
      const result = await wake(bakery, parseTrigger(event));
      return { batchItemFailures: result.failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
    },
    sqs: local.aws.sqs,
    timerQueueUrl: local.timerQueueUrl,
    events: mode === 'events',
    timers: mode !== 'sweep',
    sweepSeconds: SWEEP_SECONDS,
    region: bakery.region,
  });
  await local.control?.configure({ delays: DELAYS, eventsUrl: triggers.eventsUrl ?? null });
  await local.control?.resetCalls();
  const started = Date.now();
  const bake = await startBake(api, 'minimal', { reason: `bench ${mode}` });
  let phase = bake.phase;
  while (!isTerminal(phase)) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    phase = (await bakery.store.get(bake.id)).bake.phase;
  }
  const wallSeconds = (Date.now() - started) / 1000;
  await triggers.stop();
  const calls = (await local.control?.calls())?.calls ?? {};
  if (phase !== 'succeeded') throw new Error(`bench bake ended ${phase}`);
  return {
    mode,
    wallSeconds,
    overheadPerWait: (wallSeconds - EMULATED_SECONDS) / WAITS,
    passes: { ...triggers.counts },
    calls,
  };
}

/** One pass over 100 bakes waiting on their first step: how many EC2 Describe calls? */
async function hundredBakes(local: LocalEnvironment, engines: Engines): Promise<Record<string, number>> {
  const [minimal] = pipelines.filter((p) => p.name === 'minimal');
  if (!minimal) throw new Error('no minimal pipeline');
  const many = Array.from({ length: 100 }, (_, i) => ({
    ...minimal,
    name: `p${String(i).padStart(3, '0')}`,
    publish: { parameter: `/ami-bakery/p${i}/latest` },
  }));
  const catalog = new PipelineCatalog(
    loadPipelines(many, { builderProfile: process.env.BUILDER_INSTANCE_PROFILE }),
  );
  const bakery: Bakery = { ...engines.bakery, catalog };
  const api: Bakery = { ...engines.api, catalog };
  // Long steps: every bake stays in provisioning while we measure.
  await local.control?.configure({ delays: { ...DELAYS, 'ssm.command.in-progress': 600 }, eventsUrl: null });
  const ids = [];
  for (const pipeline of many) ids.push((await startBake(api, pipeline.name)).id);
  for (let pass = 0; pass < 20; pass += 1) {
    await reconcile(bakery);
    const phases = await Promise.all(ids.map(async (id) => (await bakery.store.get(id)).bake.phase));
    if (phases.every((p) => p === 'provisioning')) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await local.control?.resetCalls();
  await reconcile(bakery);
  const ec2 = (await local.control?.calls())?.calls.ec2 ?? {};
  return Object.fromEntries(Object.entries(ec2).filter(([action]) => action.startsWith('Describe')));
}

function row(cells: (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** Prints the lifecycle figures; returns them for the table. */
export function reportLifecycle(result: LifecycleBench, out: Out): Figure[] {
  out();
  out('Lifecycle hooks: AWS calls per action (one scale-out of the sandbox group, launch hook)');
  out(
    row([
      'readiness check',
      'CompleteLifecycleAction',
      'the check itself',
      'other (heartbeat, describe hook)',
      'target',
    ]),
  );
  out(row(['---', '---', '---', '---', '---']));
  for (const r of result.callsPerAction) {
    out(row([r.check, r.completion, r.check_, r.other, '<= 2 besides the check']));
  }
  const b = result.burst;
  out();
  out(
    `Burst: ${b.notifications} hook notifications (launches then terminations), concurrency ${process.env.BENCH_LIFECYCLE_CONCURRENCY ?? 20}: ` +
      `${b.completed} completed, ${b.lost} lost, drained in ${b.seconds.toFixed(1)} s (${b.perSecond.toFixed(1)}/s)`,
  );
  const command = 'BENCH_ONLY=lifecycle npm run bench';
  const worst = Math.max(...result.callsPerAction.map((r) => r.completion + r.other));
  return [
    {
      figure: 'lifecycle: AWS calls per action besides the check (worst readiness kind)',
      value: String(worst),
      target: '<= 2',
      met: worst <= 2,
      command,
    },
    {
      figure: 'lifecycle: burst of hook notifications',
      value: `${b.completed} of ${b.notifications} completed, ${b.lost} lost, ${b.seconds.toFixed(1)} s`,
      target: '1,000 notifications, none lost',
      met: b.notifications >= 1000 && b.lost === 0,
      command,
    },
  ];
}

export async function benchBakes(local: LocalEnvironment, out: Out): Promise<Figure[]> {
  {
    const engines: Engines = {
      bakery: createBakery(quiet, process.env, {
        clientOptions: local.clientOptions('reconcile'),
        crossAccount,
      }),
      api: createBakery(quiet, process.env, { clientOptions: local.clientOptions('api') }),
    };
    const results: ModeResult[] = [];
    for (const mode of ['events', 'timers', 'sweep'] as const)
      results.push(await bakeOnce(local, engines, mode));
    const describes = await hundredBakes(local, engines);

    out(
      `Emulated waits per bake: ${EMULATED_SECONDS} s over ${WAITS} waits (pipeline minimal); sweep every ${SWEEP_SECONDS} s.`,
    );
    out();
    out(
      row([
        'triggers',
        'bake wall time (s)',
        'overhead per wait (s)',
        'target',
        'passes (events/timers/sweeps)',
      ]),
    );
    out(row(['---', '---', '---', '---', '---']));
    const targets: Record<string, string> = {
      events: '<= 1 s',
      timers: `<= 2 s + 20% of the wait (<= ${(2 + (0.2 * EMULATED_SECONDS) / WAITS).toFixed(2)} s)`,
      sweep: 'none (safety net)',
    };
    for (const r of results) {
      out(
        row([
          r.mode,
          r.wallSeconds.toFixed(2),
          r.overheadPerWait.toFixed(2),
          targets[r.mode] ?? '',
          `${r.passes.events}/${r.passes.timers}/${r.passes.sweeps}`,
        ]),
      );
    }
    const first = results[0];
    if (!first) throw new Error('no bake measured');
    const ec2 = first.calls.ec2 ?? {};
    const polls = (ec2.DescribeInstances ?? 0) + (ec2.DescribeImages ?? 0);
    const work = Object.entries(ec2).reduce((sum, [, n]) => sum + n, 0) - polls;
    out();
    out(`AWS calls of one bake (events on), by service and action:`);
    for (const [service, actions] of Object.entries(first.calls)) {
      out(
        `  ${service}: ${Object.entries(actions)
          .map(([a, n]) => `${a} ${n}`)
          .join(', ')}`,
      );
    }
    out(
      `  EC2 calls besides polls: ${work} (target <= 12); EC2 polls (DescribeInstances/DescribeImages): ${polls}`,
    );
    const describeTotal = Object.values(describes).reduce((a, b) => a + b, 0);
    out();
    out(
      `One reconcile pass over 100 in-flight bakes: ${describeTotal} EC2 Describe calls (${JSON.stringify(describes)}; target <= 3)`,
    );

    const command = 'BENCH_ONLY=bake npm run bench';
    const timersTarget = 2 + (0.2 * EMULATED_SECONDS) / WAITS;
    const overhead = (mode: string) => results.find((r) => r.mode === mode)?.overheadPerWait ?? Number.NaN;
    return [
      {
        figure: 'reconcile overhead per wait, events on',
        value: `${overhead('events').toFixed(2)} s`,
        target: '<= 1 s',
        met: overhead('events') <= 1,
        command,
      },
      {
        figure: 'reconcile overhead per wait, timers alone',
        value: `${overhead('timers').toFixed(2)} s`,
        target: `<= 2 s + 20% of the wait (${timersTarget.toFixed(2)} s)`,
        met: overhead('timers') <= timersTarget,
        command,
      },
      {
        figure: `reconcile overhead per wait, sweep alone (every ${SWEEP_SECONDS} s)`,
        value: `${overhead('sweep').toFixed(2)} s`,
        target: '-',
        command,
      },
      {
        figure: 'EC2 calls per bake besides polls',
        value: String(work),
        target: '<= 12',
        met: work <= 12,
        command,
      },
      {
        figure: 'EC2 Describe calls, one reconcile pass over 100 in-flight bakes',
        value: String(describeTotal),
        target: '<= 3',
        met: describeTotal <= 3,
        command,
      },
    ];
  }
}
