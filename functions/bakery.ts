import { pipelines } from '../config/pipelines';
import { createAwsClients, type AwsClientOptions, type AwsClients } from '../lib/aws/clients';
import { createRegionalClients } from '../lib/aws/regional';
import { readAwsSettings } from '../lib/aws/settings';
import { readEnvironment } from '../lib/config/environment';
import { loadPipelines, PipelineCatalog } from '../lib/pipeline/catalog';
import { LifecycleStore } from '../lib/lifecycle/store';
import { BakeStore } from '../lib/store/bakes';
import type { Bakery, Log } from '../lib/bake/service';
import { SqsPassScheduler } from '../lib/bake/timer';

/** How a caller other than Lambda builds the engine's clients (the local stack, tests). */
export interface ContainerOptions {
  /** Options for every client the engine builds, in any region (credentials, instrumentation). */
  readonly clientOptions?: AwsClientOptions;
  /** The home region's clients, already built. */
  readonly clients?: AwsClients;
}

/**
 * The bake engine of a Lambda container (or the local demo), from the environment: AWS
 * clients, the bakes table, the topic, the timer queue and the validated pipelines.
 * @throws ConfigError when the environment or the pipeline configuration is invalid.
 */
export function bakeryFromEnvironment(
  log: Log,
  env: NodeJS.ProcessEnv = process.env,
  options: ContainerOptions = {},
): Bakery {
  const settings = readAwsSettings(env);
  const environment = readEnvironment(env);
  const aws = options.clients ?? createAwsClients(settings, options.clientOptions);
  const regional = createRegionalClients(aws, settings, options.clientOptions);
  return {
    region: settings.region,
    store: new BakeStore(aws.documents, environment.BAKES_TABLE),
    lifecycles: new LifecycleStore(aws.documents, environment.BAKES_TABLE),
    catalog: new PipelineCatalog(
      loadPipelines(pipelines, { builderProfile: environment.BUILDER_INSTANCE_PROFILE }),
    ),
    sns: aws.sns,
    topicArn: environment.NOTIFICATIONS_TOPIC_ARN,
    scheduler: new SqsPassScheduler(aws.sqs, environment.TIMER_QUEUE_URL),
    clock: () => new Date(),
    log,
    leaseSeconds: environment.LEASE_SECONDS,
    autoScaling: aws.autoScaling,
    ec2In: regional.ec2In,
    ssmIn: regional.ssmIn,
  };
}
