/**
 * `npm run chaos`: 50 bakes over 5 pipelines, each rolling out to its own group, on the emulator
 * with 10% throttling, 2% 5xx and added latency on every AWS call, while reconcile passes are
 * killed at random points (after an AWS call succeeded, or at the commit). Then the report:
 * bakes that reached a terminal phase, builders left running, records lost or stuck, duplicate
 * AMIs. Stops by itself (CHAOS_MINUTES, default 4). Exits 1 when any figure misses its target.
 */
import { CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeImagesCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { pipelines } from '../config/pipelines';
import { EmulatorStartError } from '../emulator/harness';
import { createAwsClients } from '../lib/aws/clients';
import { readAwsSettings } from '../lib/aws/settings';
import { bakeryFromEnvironment } from '../lib/bake/container';
import { isTerminal } from '../lib/bake/model';
import { reconcile, startBake, type Bakery } from '../lib/bake/service';
import { TAG_BAKE_ID, TAG_MANAGED, TAG_ROLE } from '../lib/bake/tags';
import { loadPipelines, PipelineCatalog } from '../lib/pipeline/catalog';
import type { PipelineInput } from '../lib/pipeline/schema';
import { BakeStore } from '../lib/store/bakes';
import { startLocalEnvironment } from './local/environment';

const PIPELINES = 5;
const BAKES_PER_PIPELINE = 10;
/** The share of reconcile passes that die, each after a random number of its AWS calls (or at its commit). */
const KILL_PROBABILITY = Number(process.env.CHAOS_KILL ?? 0.2);
/** Calls (AWS calls and commits) a container's current pass may still make before it "dies". */
interface Fate {
  callsLeft: number;
}

function doom(fate: Fate, random: () => number): void {
  fate.callsLeft = random() < KILL_PROBABILITY ? 1 + Math.floor(random() * 30) : Number.POSITIVE_INFINITY;
}

function spend(fate: Fate, where: string): void {
  fate.callsLeft -= 1;
  if (fate.callsLeft <= 0) {
    fate.callsLeft = Number.POSITIVE_INFINITY;
    throw new Killed(`pass killed ${where}`);
  }
}
const MINUTES = Number(process.env.CHAOS_MINUTES ?? 4);
const say = (line = '') => process.stdout.write(`${line}\n`);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A pass dying mid-way: it propagates like a crash (marked retryable, so nothing records it as AWS's answer). */
class Killed extends Error {
  override readonly name = 'Killed';
  readonly $retryable = { throttling: false };
}

/** A client whose successful calls sometimes "kill the pass" right after AWS did the work. */
function killing<T extends { send: (...args: never[]) => Promise<unknown> }>(client: T, fate: Fate): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver) as unknown;
      return async (...args: never[]) => {
        const result = await target.send(...args);
        spend(fate, 'after an AWS call');
        return result;
      };
    },
  });
}

/** A store whose commits sometimes die before writing (the pass acted, the record did not move). */
class DyingStore extends BakeStore {
  constructor(
    documents: ConstructorParameters<typeof BakeStore>[0],
    table: string,
    private readonly fate: Fate,
  ) {
    super(documents, table);
  }
  override async commit(...args: Parameters<BakeStore['commit']>): ReturnType<BakeStore['commit']> {
    spend(this.fate, 'before its commit');
    return super.commit(...args);
  }
}

/** Deterministic randomness (mulberry32), so a run can be repeated with CHAOS_SEED. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<number> {
  const random = seeded(Number(process.env.CHAOS_SEED ?? 20261122));
  const local = await startLocalEnvironment('chaos');
  try {
    if (!local.control) throw new Error('the chaos run needs the emulator extension (faults)');
    const [, minimal] = pipelines as [PipelineInput, PipelineInput];
    const configured: PipelineInput[] = [];
    for (let p = 0; p < PIPELINES; p += 1) {
      const group = `chaos-fleet-${p}`;
      await local.aws.autoScaling.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: group,
          LaunchTemplate: { LaunchTemplateId: local.sandbox.launchTemplateId, Version: '1' },
          MinSize: 1,
          MaxSize: 2,
          DesiredCapacity: 1,
          VPCZoneIdentifier: local.sandbox.subnetIds.join(','),
        }),
      );
      configured.push({
        ...minimal,
        name: `chaos-${p}`,
        publish: { parameter: `/ami-bakery/chaos-${p}/latest` },
        rollout: {
          targets: [{ autoScalingGroup: group, setDefaultVersion: false }],
          refresh: { minHealthyPercentage: 0 },
        },
        deadlines: { refreshing: 1_800 },
      });
    }
    const catalog = new PipelineCatalog(loadPipelines(configured));
    // One "Lambda container" per pipeline: its own AWS clients (and retry rate limiter), its own fate.
    const containers = configured.map(() => {
      const fate: Fate = { callsLeft: Number.POSITIVE_INFINITY };
      const clients = createAwsClients(readAwsSettings());
      const base = bakeryFromEnvironment(quiet, process.env, clients);
      const bakery: Bakery = {
        ...base,
        catalog,
        store: new DyingStore(clients.documents, local.tableName, fate),
        ec2In: (region) => killing(base.ec2In(region), fate),
        ssmIn: (region) => killing(base.ssmIn(region), fate),
        autoScaling: killing(base.autoScaling, fate),
        leaseSeconds: 2,
      };
      return { bakery, fate };
    });
    const store = new BakeStore(local.aws.documents, local.tableName); // the unharmed view, for the report
    await local.control.configure({ timeScale: 0.002 });
    await local.control.setFaults(
      [
        { kind: 'throttle', service: '*', probability: 0.1 },
        { kind: 'error', service: '*', probability: 0.02, status: 500 },
        { kind: 'latency', service: '*', probability: 0.2, latencyMs: 40 },
      ],
      Number(process.env.CHAOS_SEED ?? 20261122),
    );

    const started: string[] = [];
    const remaining = configured.map(() => BAKES_PER_PIPELINE);
    const current: (string | undefined)[] = configured.map(() => undefined);
    const deadline = Date.now() + MINUTES * 60_000;
    const begun = Date.now();
    let passes = 0;
    const finished = new Set<string>();
    let killed = 0;
    say(
      `chaos: ${PIPELINES * BAKES_PER_PIPELINE} bakes over ${PIPELINES} pipelines; 10% throttling, 2% 5xx, latency; ${KILL_PROBABILITY * 100}% of reconcile passes killed at a random point`,
    );
    while (Date.now() < deadline) {
      await Promise.all(
        containers.map(async ({ bakery, fate }, p) => {
          const id = current[p];
          if ((id === undefined || finished.has(id)) && (remaining[p] ?? 0) > 0) {
            try {
              const bake = await startBake(bakery, `chaos-${p}`, { reason: 'chaos' });
              current[p] = bake.id;
              started.push(bake.id);
              remaining[p] = (remaining[p] ?? 0) - 1;
            } catch {
              // throttled, or the previous bake still holds the lock while its outbox goes out: next round
            }
            return;
          }
          if (id === undefined || finished.has(id)) return;
          try {
            doom(fate, random);
            const report = await reconcile(bakery, [id]);
            killed += Object.values(report.outcomes).filter((o) => o === 'error').length;
          } catch {
            killed += 1; // observing failed: the whole pass is lost, as a killed Lambda's would be
          }
        }),
      );
      passes += 1;
      for (const id of started.filter((i) => !finished.has(i))) {
        const stored = await store.get(id).catch(() => undefined);
        if (stored && isTerminal(stored.bake.phase) && stored.outbox.length === 0) finished.add(id);
      }
      if (finished.size === PIPELINES * BAKES_PER_PIPELINE) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await local.control.clearFaults();
    const seconds = (Date.now() - begun) / 1000;

    const records = await Promise.all(started.map((id) => store.get(id).catch(() => undefined)));
    const terminal = records.filter((r) => r && isTerminal(r.bake.phase)).length;
    const lost = records.filter((r) => !r).length;
    const stuck = records.filter((r) => r && !isTerminal(r.bake.phase)).length;
    const phases = records.reduce<Record<string, number>>((acc, r) => {
      const phase = r?.bake.phase ?? 'lost';
      acc[phase] = (acc[phase] ?? 0) + 1;
      return acc;
    }, {});
    const builders = await local.aws.ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${TAG_MANAGED}`, Values: ['true'] },
          { Name: 'tag-key', Values: [TAG_ROLE] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ],
      }),
    );
    const running = (builders.Reservations ?? []).flatMap((r) => r.Instances ?? []).length;
    const images = await local.aws.ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: `tag:${TAG_MANAGED}`, Values: ['true'] }],
      }),
    );
    const perBake = new Map<string, number>();
    for (const image of images.Images ?? []) {
      const bakeId = image.Tags?.find((t) => t.Key === TAG_BAKE_ID)?.Value ?? '';
      perBake.set(bakeId, (perBake.get(bakeId) ?? 0) + 1);
    }
    const duplicates = [...perBake.values()].filter((n) => n > 1).length;
    const total = PIPELINES * BAKES_PER_PIPELINE;

    say();
    say('| figure | value | target |');
    say('| --- | --- | --- |');
    say(`| bakes started | ${started.length} | ${total} |`);
    say(
      `| bakes terminal | ${terminal} (${((100 * terminal) / total).toFixed(0)}%; ${JSON.stringify(phases)}) | 100% |`,
    );
    say(`| builders left running | ${running} | 0 |`);
    say(`| records lost | ${lost} | 0 |`);
    say(`| records stuck (not terminal) | ${stuck} | 0 |`);
    say(`| duplicate AMIs (bakes with more than one image) | ${duplicates} | 0 |`);
    say(`| lifecycle actions left pending | n/a (no hooks in this run) | 0 |`);
    say(`| reconcile passes / killed or failed bake steps | ${passes} / ${killed} | - |`);
    say(`| wall time | ${seconds.toFixed(0)} s | a few minutes |`);
    const ok =
      started.length === total && terminal === total && running === 0 && lost === 0 && duplicates === 0;
    say();
    say(ok ? 'chaos: all targets met' : 'chaos: targets missed');
    return ok ? 0 : 1;
  } finally {
    await local.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof EmulatorStartError ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
