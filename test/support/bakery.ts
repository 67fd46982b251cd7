import { randomBytes } from 'node:crypto';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { pipelines as configured } from '../../config/pipelines';
import { readAwsSettings } from '../../lib/aws/settings';
import type { Bakery, Log } from '../../lib/bake/service';
import { reconcile } from '../../lib/bake/service';
import { isTerminal, type BakeRecord } from '../../lib/bake/model';
import type { PassScheduler } from '../../lib/bake/timer';
import { loadPipelines, PipelineCatalog } from '../../lib/pipeline/catalog';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { LifecycleStore } from '../../lib/lifecycle/store';
import { BakeStore, type StoredBake } from '../../lib/store/bakes';
import { accountHeader, type TestAws } from './aws';
import type { Sandbox } from '../../emulator/sandbox';
import { createBakesTable } from '../../emulator/stack';

/** Records what the engine asked to schedule; tests run the passes themselves. */
export class RecordingScheduler implements PassScheduler {
  readonly scheduled: { bakeId: string; delaySeconds: number; version: number }[] = [];
  schedule(bakeId: string, delaySeconds: number, version: number): Promise<void> {
    this.scheduled.push({ bakeId, delaySeconds, version });
    return Promise.resolve();
  }
  readonly lifecycles: { token: string; delaySeconds: number }[] = [];
  scheduleLifecycle(token: string, delaySeconds: number): Promise<void> {
    this.lifecycles.push({ token, delaySeconds });
    return Promise.resolve();
  }
}

export const quietLog: Log = process.env.BAKE_DEBUG
  ? console
  : { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface TestBakery extends Bakery {
  readonly scheduler: RecordingScheduler;
  readonly tableName: string;
}

/** A bake engine wired to the emulator: a fresh bakes table, the sandbox topic, the given pipelines. */
export async function bakeryForTest(
  aws: TestAws,
  sandbox: Sandbox,
  pipelines: PipelineInput[] = configured,
  clock: () => Date = () => new Date(),
): Promise<TestBakery> {
  const tableName = await createBakesTable(aws, `bakes-${randomBytes(4).toString('hex')}`);
  const settings = readAwsSettings();
  const regional = new Map<string, { ec2: EC2Client; ssm: SSMClient }>();
  const inRegion = (region: string) => {
    let clients = regional.get(region);
    if (!clients) {
      clients = { ec2: new EC2Client({ region }), ssm: new SSMClient({ region }) };
      clients.ec2.middlewareStack.use(accountHeader(aws.accountId));
      clients.ssm.middlewareStack.use(accountHeader(aws.accountId));
      regional.set(region, clients);
    }
    return clients;
  };
  return {
    region: settings.region,
    tableName,
    store: new BakeStore(aws.documents, tableName),
    lifecycles: new LifecycleStore(aws.documents, tableName),
    catalog: new PipelineCatalog(loadPipelines(pipelines)),
    sns: aws.sns,
    topicArn: sandbox.topicArn,
    scheduler: new RecordingScheduler(),
    clock,
    log: quietLog,
    leaseSeconds: 1,
    autoScaling: aws.autoScaling,
    ec2In: (region) => (region === settings.region ? aws.ec2 : inRegion(region).ec2),
    ssmIn: (region) => (region === settings.region ? aws.ssm : inRegion(region).ssm),
  };
}

/**
 * Runs reconcile passes on one bake until it is terminal with its notifications out (or `until`
 * says so, or the time runs out).
 */
export async function runToEnd(
  bakery: Bakery,
  bakeId: string,
  {
    timeoutMs = 15_000,
    pauseMs = 20,
    until = (stored: StoredBake) => isTerminal(stored.bake.phase) && stored.outbox.length === 0,
  } = {},
): Promise<BakeRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await reconcile(bakery, [bakeId]);
    if (process.env.BAKE_DEBUG) console.log('pass', JSON.stringify(report.outcomes));
    const stored = await bakery.store.get(bakeId);
    const { bake } = stored;
    if (until(stored)) return bake;
    if (Date.now() > deadline) throw new Error(`bake ${bakeId} still ${bake.phase} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/** A store whose commit "crashes" (after the actions ran) on the chosen calls. */
export class CrashingStore extends BakeStore {
  commits = 0;
  constructor(
    base: ConstructorParameters<typeof BakeStore>,
    private readonly crashOn: Set<number>,
  ) {
    super(...base);
  }
  override async commit(...args: Parameters<BakeStore['commit']>) {
    this.commits += 1;
    if (this.crashOn.has(this.commits))
      throw Object.assign(new Error('Lambda timed out'), { name: 'TimeoutError' });
    return super.commit(...args);
  }
  // A process that died gives nothing back: its lease runs out instead.
  override release(): Promise<void> {
    return Promise.resolve();
  }
}
