import { randomBytes } from 'node:crypto';
import { pipelines as configured } from '../../config/pipelines';
import {
  credentialsEnv,
  registerStackIdentities,
  type FunctionName,
  type IdentityOptions,
  type LocalStackNames,
  type StackIdentities,
} from '../../emulator/iam/identities';
import { packagedTemplate } from '../../emulator/iam/stack';
import { createAwsClients, type AwsClientOptions, type AwsClients } from '../../lib/aws/clients';
import { readAwsSettings } from '../../lib/aws/settings';
import type { Bakery } from '../../lib/bake/service';
import type { Log } from '../../lib/log';
import { reconcile } from '../../lib/bake/service';
import { isTerminal, type BakeRecord } from '../../lib/bake/model';
import type { PassScheduler } from '../../lib/bake/timer';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { BakeStore, type StoredBake } from '../../lib/store/bakes';
import { createBakery } from '../../functions/bakery';
import { crossAccount } from '../../lib/aws/cross-account';
import { accountHeader, controlFor, type TestAws } from './aws';
import { BUILDER_PROFILE_NAME, type Sandbox } from '../../emulator/sandbox';
import { createBakesTable, createTimerQueue } from '../../emulator/stack';

/**
 * Records what the engine asked to schedule; tests run the passes themselves (or, given `next`,
 * the passes are also scheduled there, e.g. on the real timer queue).
 */
export class RecordingScheduler implements PassScheduler {
  constructor(private readonly next?: PassScheduler) {}
  readonly scheduled: { bakeId: string; delaySeconds: number; version: number }[] = [];
  schedule(bakeId: string, delaySeconds: number, version: number): Promise<void> {
    this.scheduled.push({ bakeId, delaySeconds, version });
    return this.next ? this.next.schedule(bakeId, delaySeconds, version) : Promise.resolve();
  }
  readonly lifecycles: { token: string; delaySeconds: number }[] = [];
  scheduleLifecycle(token: string, delaySeconds: number): Promise<void> {
    this.lifecycles.push({ token, delaySeconds });
    return this.next ? this.next.scheduleLifecycle(token, delaySeconds) : Promise.resolve();
  }
}

export const quietLog: Log = process.env.BAKE_DEBUG
  ? console
  : { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface TestBakery extends Bakery {
  readonly scheduler: RecordingScheduler;
  readonly tableName: string;
  readonly identities: StackIdentities;
  /** The reconcile function's document client (for stores a test builds, such as CrashingStore). */
  readonly documents: AwsClients['documents'];
  /**
   * The same engine (table, topic, pipelines, clock, scheduler) signed as another function of
   * the stack: `startBake(bakery.as('api'), ...)` runs with the API's role, as it does in AWS.
   * The bakery itself is the reconcile function.
   */
  as(fn: FunctionName): Bakery;
}

export interface TestBakeryOptions extends IdentityOptions {
  readonly clock?: () => Date;
  /**
   * Schedule passes on a real SQS timer queue, each function sending as itself (as deployed);
   * by default passes are only recorded and tests run them by hand.
   */
  readonly timerQueue?: boolean;
}

/**
 * A bake engine wired to the emulator: a fresh bakes table, the sandbox topic, the given
 * pipelines, and every function's role from the packaged stack enforced on its calls.
 */
export async function bakeryForTest(
  aws: TestAws,
  sandbox: Sandbox,
  pipelines: PipelineInput[] = configured,
  clockOrOptions: (() => Date) | TestBakeryOptions = {},
): Promise<TestBakery> {
  const options = typeof clockOrOptions === 'function' ? { clock: clockOrOptions } : clockOrOptions;
  const clock = options.clock ?? (() => new Date());
  const tableName = await createBakesTable(aws, `bakes-${randomBytes(4).toString('hex')}`);
  const settings = readAwsSettings();
  // Every bakery has its timer queue, as deployed; passes are only recorded unless `timerQueue`.
  const timerQueueUrl = await createTimerQueue(aws, `${tableName}-timers`);
  const names: LocalStackNames = {
    accountId: aws.accountId,
    region: settings.region,
    tableName,
    notificationsTopicArn: sandbox.topicArn,
    builderRoleName: BUILDER_PROFILE_NAME,
    timerQueueUrl,
  };
  const identities = await registerStackIdentities(controlFor(aws), await packagedTemplate(), names, options);
  // The functions' environment, as serverless.yml gives it (a short lease: tests retry fast).
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BAKES_TABLE: tableName,
    NOTIFICATIONS_TOPIC_ARN: sandbox.topicArn,
    TIMER_QUEUE_URL: timerQueueUrl,
    LEASE_SECONDS: '1',
    BUILDER_INSTANCE_PROFILE: BUILDER_PROFILE_NAME,
  };
  const scheduler = new RecordingScheduler();
  const built = new Map<
    FunctionName,
    Bakery & { documents: AwsClients['documents']; scheduler: RecordingScheduler }
  >();
  const as = (fn: FunctionName) => {
    let bakery = built.get(fn);
    if (!bakery) {
      const clientOptions: AwsClientOptions = {
        credentials: identities[fn].credentials,
        instrument: (client) => {
          client.middlewareStack.use(accountHeader(aws.accountId));
        },
      };
      const clients = createAwsClients(settings, clientOptions);
      // Each function as it is wired: only reconcile reaches KMS and other accounts.
      const reach = fn === 'reconcile' ? { crossAccount } : {};
      const base = createBakery(quietLog, env, {
        clients,
        clientOptions,
        pipelines,
        ...reach,
        overrides: { clock },
      });
      bakery = {
        ...base,
        documents: clients.documents,
        scheduler: options.timerQueue ? new RecordingScheduler(base.scheduler) : scheduler,
      };
      built.set(fn, bakery);
    }
    return bakery;
  };
  const reconciler = as('reconcile');
  return {
    ...reconciler,
    scheduler: reconciler.scheduler,
    tableName,
    identities,
    as: (fn: FunctionName): Bakery => as(fn),
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

/**
 * A Lambda handler's environment in the test's account, as serverless.yml sets it: the bakes
 * table, topic, timer queue and builder profile, and the function's own credentials (its role
 * as packaged, enforced by the emulator). Returns every function's identity, for a test that
 * runs more than one handler.
 */
export async function handlerEnvironment(
  aws: TestAws,
  sandbox: Sandbox,
  name: string,
  fn: FunctionName,
): Promise<StackIdentities> {
  const tableName = await createBakesTable(aws, `${name}-bakes`);
  const timerQueueUrl = await createTimerQueue(aws, `${name}-timers`);
  const identities = await registerStackIdentities(controlFor(aws), await packagedTemplate(), {
    accountId: aws.accountId,
    region: readAwsSettings().region,
    tableName,
    notificationsTopicArn: sandbox.topicArn,
    timerQueueUrl,
    builderRoleName: BUILDER_PROFILE_NAME,
  });
  Object.assign(process.env, {
    BAKES_TABLE: tableName,
    NOTIFICATIONS_TOPIC_ARN: sandbox.topicArn,
    TIMER_QUEUE_URL: timerQueueUrl,
    BUILDER_INSTANCE_PROFILE: BUILDER_PROFILE_NAME,
    ...credentialsEnv(identities[fn]),
  });
  return identities;
}
