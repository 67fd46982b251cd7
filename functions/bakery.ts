import { pipelines } from '../config/pipelines';
import { createAwsClients, type AwsClientOptions, type AwsClients } from '../lib/aws/clients';
import { createRegionalClients, type CrossAccount } from '../lib/aws/regional';
import { readAwsSettings } from '../lib/aws/settings';
import { readEnvironment } from '../lib/config/environment';
import { loadPipelines, PipelineCatalog } from '../lib/pipeline/catalog';
import type { PipelineInput } from '../lib/pipeline/schema';
import { LifecycleStore } from '../lib/lifecycle/store';
import { BakeStore } from '../lib/store/bakes';
import type { Bakery } from '../lib/bake/service';
import type { Log } from '../lib/log';
import { SqsPassScheduler } from '../lib/bake/timer';

/** How a caller other than Lambda builds the engine (the local stack, tests, bench, chaos). */
export interface BakeryOptions {
  /** Options for every client the engine builds, in any region (credentials, instrumentation). */
  readonly clientOptions?: AwsClientOptions;
  /** The home region's clients, already built. */
  readonly clients?: AwsClients;
  /** The pipelines to bake; config/pipelines.ts unless given. */
  readonly pipelines?: readonly PipelineInput[];
  /**
   * KMS and other accounts' roles (lib/aws/cross-account.ts): given by the reconcile function
   * only, which shares images and rolls out to other accounts; the other functions' bundles do
   * without both clients.
   */
  readonly crossAccount?: CrossAccount;
  /** Parts the caller replaces: a test's scheduler and clock, the chaos run's dying store. */
  readonly overrides?: Partial<Bakery>;
}

/**
 * The bake engine of a Lambda container, the local stack, a test, the benchmarks or the chaos
 * run, from the environment: AWS clients, the bakes table, the topic, the timer queue and the
 * validated pipelines. The one place the engine is wired.
 * @throws ConfigError when the environment or the pipeline configuration is invalid.
 */
export function createBakery(
  log: Log,
  env: NodeJS.ProcessEnv = process.env,
  options: BakeryOptions = {},
): Bakery {
  const settings = readAwsSettings(env);
  const environment = readEnvironment(env);
  const aws = options.clients ?? createAwsClients(settings, options.clientOptions);
  const regional = createRegionalClients(aws, settings, options.clientOptions, options.crossAccount);
  return {
    region: settings.region,
    store: new BakeStore(aws.documents, environment.BAKES_TABLE),
    lifecycles: new LifecycleStore(aws.documents, environment.BAKES_TABLE),
    catalog: new PipelineCatalog(
      loadPipelines([...(options.pipelines ?? pipelines)], {
        builderProfile: environment.BUILDER_INSTANCE_PROFILE,
      }),
    ),
    sns: aws.sns,
    topicArn: environment.NOTIFICATIONS_TOPIC_ARN,
    scheduler: new SqsPassScheduler(aws.sqs, environment.TIMER_QUEUE_URL),
    clock: () => new Date(),
    log,
    leaseSeconds: environment.LEASE_SECONDS,
    nightlySchedule: environment.NIGHTLY_SCHEDULE,
    autoScaling: aws.autoScaling,
    ec2In: regional.ec2In,
    ssmIn: regional.ssmIn,
    autoScalingIn: regional.autoScalingIn,
    kmsIn: regional.kmsIn,
    ...options.overrides,
  };
}
