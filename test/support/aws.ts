import { createHash } from 'node:crypto';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import type { Pluggable } from '@smithy/types';
import { inject } from 'vitest';
import { EmulatorControl } from '../../emulator/control';
import { ADMIN_CREDENTIALS } from '../../emulator/harness';
import { createAwsClients, type AwsClients } from '../../lib/aws/clients';
import { clientConfig, readAwsSettings } from '../../lib/aws/settings';

/**
 * Clients for one isolated emulator account, signed as the admin identity: what fixtures and
 * assertions use. The service itself runs as its functions (`bakeryForTest`, `functionEnv`).
 */
export interface TestAws extends AwsClients {
  readonly accountId: string;
  readonly iam: IAMClient;
  readonly elb: ElasticLoadBalancingV2Client;
  readonly kms: KMSClient;
}

/**
 * A 12-digit account id derived from `key` (use `import.meta.url`, plus a suffix for
 * a per-test account), so each test file gets the same account run after run and
 * never shares one with another file. Never moto's default, 123456789012.
 */
export function testAccountId(key: string): string {
  const digest = createHash('sha256').update(key).digest();
  const digits = Array.from(digest.subarray(0, 11), (byte) => String(byte % 10)).join('');
  return `9${digits}`;
}

/**
 * moto keeps one state per account and picks the account from this request header.
 * The middleware never looks at a command's input or output, so it fits every client.
 */
export function accountHeader<Input extends object, Output extends object>(
  accountId: string,
): Pluggable<Input, Output> {
  return {
    applyToStack(stack) {
      stack.add(
        (next) => (args) => {
          const request = args.request as { headers?: Record<string, string> };
          if (request.headers) request.headers['x-moto-account-id'] = accountId;
          return next(args);
        },
        { step: 'build', name: 'motoAccountHeader' },
      );
    },
  };
}

/**
 * AWS clients bound to an isolated emulator account; see `testAccountId`.
 * `env` overrides the environment the clients' settings are read from (e.g. `AWS_MAX_ATTEMPTS`).
 */
export function awsForTest(key: string, env: NodeJS.ProcessEnv = {}): TestAws {
  const accountId = testAccountId(key);
  const settings = readAwsSettings({ ...process.env, ...env });
  const clients = createAwsClients(settings, {
    credentials: ADMIN_CREDENTIALS,
    instrument: (client) => {
      client.middlewareStack.use(accountHeader(accountId));
    },
  });
  const config = clientConfig(settings, settings.region, ADMIN_CREDENTIALS);
  const iam = new IAMClient(config);
  iam.middlewareStack.use(accountHeader(accountId));
  const elb = new ElasticLoadBalancingV2Client(config);
  elb.middlewareStack.use(accountHeader(accountId));
  const kms = new KMSClient(config);
  kms.middlewareStack.use(accountHeader(accountId));
  return Object.assign(Object.create(clients) as AwsClients, { accountId, iam, elb, kms });
}

/** The extension's control API for the test's account. */
export function controlFor(aws: TestAws): EmulatorControl {
  return new EmulatorControl(inject('emulatorEndpoint'), aws.accountId);
}

/** How a call ended: `Name: message` of its error, or `allowed`. */
export async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
  return 'allowed';
}

/** Polls `probe` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Clients for moto's default account (no account header): for the one test file that runs a
 * Lambda handler, which builds its own clients from the environment as it does in AWS.
 */
export function awsForDefaultAccount(): TestAws {
  const settings = readAwsSettings();
  const clients = createAwsClients(settings, { credentials: ADMIN_CREDENTIALS });
  const config = clientConfig(settings, settings.region, ADMIN_CREDENTIALS);
  return Object.assign(Object.create(clients) as AwsClients, {
    accountId: '123456789012',
    iam: new IAMClient(config),
    elb: new ElasticLoadBalancingV2Client(config),
    kms: new KMSClient(config),
  });
}
