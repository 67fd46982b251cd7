import { UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { EmulatorControl } from '../../emulator/control';
import { ADMIN_CREDENTIALS, startEmulator, type RunningEmulator } from '../../emulator/harness';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  credentialsEnv,
  FUNCTION_NAMES,
  registerStackIdentities,
  type FunctionName,
  type StackIdentities,
} from '../../emulator/iam/identities';
import { packagedTemplate } from '../../emulator/iam/stack';
import {
  BUILDER_PROFILE_NAME,
  createSandbox,
  type Sandbox,
  type SandboxClients,
} from '../../emulator/sandbox';
import { createBakesTable, createTimerQueue } from '../../emulator/stack';
import { createAwsClients, type AwsClientOptions, type AwsClients } from '../../lib/aws/clients';
import { readAwsSettings } from '../../lib/aws/settings';

/** moto's account when no x-moto-account-id header is sent. */
const DEFAULT_ACCOUNT = '123456789012';

export interface LocalEnvironment {
  readonly endpoint: string;
  /** The admin's clients: for setting the sandbox up and reading the outcome, never for the service. */
  readonly aws: AwsClients & SandboxClients;
  /** Each function's own credentials, its role as packaged (absent against a real endpoint). */
  readonly identities: StackIdentities | undefined;
  /** The environment a function runs with: the stack's variables and its own credentials. */
  functionEnv(fn: FunctionName): Record<string, string>;
  /** Client options that sign as `fn` (for an engine built in this process). */
  clientOptions(fn: FunctionName): AwsClientOptions;
  /** The emulator extension's control API, when the endpoint has one. */
  readonly control: EmulatorControl | undefined;
  readonly sandbox: Sandbox;
  readonly tableName: string;
  readonly timerQueueUrl: string;
  stop(): Promise<void>;
}

/**
 * The stack stood up locally: the emulator (or whatever AWS_ENDPOINT_URL points at), the
 * sandbox fleet, the bakes table and the timer queue, with the process environment set the
 * way serverless.yml sets the functions'.
 */
export async function startLocalEnvironment(name: string): Promise<LocalEnvironment> {
  let emulator: RunningEmulator | undefined;
  if (!process.env.AWS_ENDPOINT_URL) {
    emulator = await startEmulator();
    process.env.AWS_ENDPOINT_URL = emulator.endpoint;
  }
  const endpoint = process.env.AWS_ENDPOINT_URL;
  process.env.AWS_REGION ??= 'us-east-1';
  const health = await fetch(`${endpoint}/_bakery/health`).then(
    (r) => r.ok,
    () => false,
  );
  const control = health ? new EmulatorControl(endpoint, DEFAULT_ACCOUNT) : undefined;
  // This process sets the sandbox up as the emulator's admin; the functions never run as it.
  const admin = control ? { credentials: ADMIN_CREDENTIALS } : {};
  const settings = readAwsSettings();
  const clients = createAwsClients(settings, admin);
  const aws = Object.assign(Object.create(clients) as AwsClients, {
    iam: new IAMClient({ region: settings.region, ...admin }),
    elb: new ElasticLoadBalancingV2Client({ region: settings.region, ...admin }),
  });

  const run = `${name}-${Date.now().toString(36)}`;
  // The fleet the `web` pipeline rolls out to, pinned to an explicit template version (as a
  // fleet is after its first refresh; AWS can roll back only such a group).
  const sandbox = await createSandbox(aws, { name: run, desiredCapacity: 2, groupName: 'web-fleet' });
  await aws.autoScaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: sandbox.autoScalingGroupName,
      LaunchTemplate: { LaunchTemplateId: sandbox.launchTemplateId, Version: '1' },
    }),
  );
  const tableName = await createBakesTable(aws, `${run}-bakes`);
  const timerQueueUrl = await createTimerQueue(aws, `${run}-timers`);
  // What serverless.yml sets for every function, here and in each local function's process.
  const stackEnv = {
    BAKES_TABLE: tableName,
    NOTIFICATIONS_TOPIC_ARN: sandbox.topicArn,
    TIMER_QUEUE_URL: timerQueueUrl,
    BUILDER_INSTANCE_PROFILE: BUILDER_PROFILE_NAME,
  };
  Object.assign(process.env, stackEnv);
  process.env.LEASE_SECONDS ??= '30';
  // Each function signs with its own credentials, mapped by the emulator to its packaged role.
  const identities = control
    ? await registerStackIdentities(control, await packagedTemplate(), {
        accountId: DEFAULT_ACCOUNT,
        region: settings.region,
        tableName,
        notificationsTopicArn: sandbox.topicArn,
        timerQueueUrl,
        builderRoleName: BUILDER_PROFILE_NAME,
      })
    : undefined;
  return {
    endpoint,
    aws,
    identities,
    functionEnv: (fn) => ({ ...stackEnv, ...(identities ? credentialsEnv(identities[fn]) : {}) }),
    clientOptions: (fn) => (identities ? { credentials: identities[fn].credentials } : {}),
    control,
    sandbox,
    tableName,
    timerQueueUrl,
    stop: async () => {
      await emulator?.stop();
    },
  };
}

/** A Lambda context for calling handlers locally. */
export function lambdaContext(functionName: string) {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${DEFAULT_ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Writes `<dir>/<function>.env` for each function: the stack's variables, the endpoint and the
 * function's own credentials, as shell assignments. With them, `serverless invoke local` runs a
 * function against this local stack, offline (`--param resources=env` makes serverless.yml take
 * the names from the environment instead of the stack's !Refs).
 * @returns the files written.
 */
export function writeFunctionEnvFiles(local: LocalEnvironment, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return FUNCTION_NAMES.map((fn) => {
    const env = {
      AWS_ENDPOINT_URL: local.endpoint,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      ...local.functionEnv(fn),
    };
    const file = join(dir, `${fn}.env`);
    const quoted = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
    writeFileSync(
      file,
      `${Object.entries(env)
        .map(([key, value]) => `${key}=${quoted(value)}`)
        .join('\n')}\n`,
      {
        mode: 0o600,
      },
    );
    return file;
  });
}
