import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { KMSClient } from '@aws-sdk/client-kms';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { AnyAwsClient, AwsClients, AwsClientOptions } from './clients';
import { clientConfig, type AwsSettings } from './settings';

/**
 * A role in another account, assumed for one bake: its calls there are the role's (CloudTrail shows
 * the session name, the bake id). https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
 */
export interface AssumedRole {
  readonly roleArn: string;
  readonly externalId: string;
  readonly sessionName: string;
}

/** EC2, SSM, Auto Scaling and KMS clients per region (copies, per-region parameters, rollout targets), built once each. */
export interface RegionalClients {
  /** In the service's own account, or, given a role, in the role's account. */
  readonly ec2In: (region: string, role?: AssumedRole) => EC2Client;
  readonly ssmIn: (region: string) => SSMClient;
  readonly autoScalingIn: (region: string, role?: AssumedRole) => AutoScalingClient;
  readonly kmsIn: (region: string, role?: AssumedRole) => KMSClient;
}

/**
 * What reaches past the service's own account and its EC2, SSM and Auto Scaling: KMS clients, and
 * other accounts' roles. Only the reconcile function is given it (lib/aws/cross-account.ts).
 */
export interface CrossAccount {
  readonly kmsClient: (config: ReturnType<typeof clientConfig>) => KMSClient;
  readonly assumeRole: (
    settings: AwsSettings,
    options: AwsClientOptions,
    role: AssumedRole,
  ) => Promise<AwsCredentialIdentity>;
}

/** Raised when a function without cross-account clients is asked for one: a wiring mistake. */
export class NoCrossAccountError extends Error {
  override readonly name = 'NoCrossAccountError';
}

function withoutCrossAccount(what: string): never {
  throw new NoCrossAccountError(
    `${what}: this function is built without KMS and cross-account clients (only reconcile has them)`,
  );
}

/** The AWS partition of a region's ARNs. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** Credentials are asked for again this long before they expire. */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

/** Clients kept per (region, role session): one Lambda container serves few bakes at a time. */
const MOST_CACHED = 256;

/**
 * Regional clients that reuse the home region's clients and build the others on first use; KMS
 * clients and clients acting through another account's role only when given `reach`.
 */
export function createRegionalClients(
  home: AwsClients,
  settings: AwsSettings,
  options: AwsClientOptions = {},
  reach?: CrossAccount,
): RegionalClients {
  const cache = new Map<string, AnyAwsClient | KMSClient>();
  function build<T extends AnyAwsClient | KMSClient>(key: string, make: () => T): T {
    const cached = cache.get(key) as T | undefined;
    if (cached) return cached;
    const client = make();
    options.instrument?.(client);
    if (cache.size >= MOST_CACHED) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(key, client);
    return client;
  }
  // One credentials provider per role session: a bake's EC2, Auto Scaling and KMS clients there,
  // in every region, share one AssumeRole.
  const sessions = new Map<string, AwsCredentialIdentityProvider>();
  const assumer = (role: AssumedRole): AwsCredentialIdentityProvider => {
    const key = `${role.roleArn}|${role.sessionName}`;
    let provider = sessions.get(key);
    if (!provider) {
      provider = assumeRole(
        settings,
        options,
        role,
        reach ?? withoutCrossAccount(`assuming ${role.roleArn}`),
      );
      if (sessions.size >= MOST_CACHED) {
        const oldest = sessions.keys().next();
        if (!oldest.done) sessions.delete(oldest.value);
      }
      sessions.set(key, provider);
    }
    return provider;
  };
  const config = (region: string, role?: AssumedRole) =>
    clientConfig(settings, region, role ? assumer(role) : options.credentials);
  const keyOf = (kind: string, region: string, role?: AssumedRole) =>
    role ? `${kind}|${region}|${role.roleArn}|${role.sessionName}` : `${kind}|${region}`;
  return {
    ec2In: (region, role) =>
      region === settings.region && !role
        ? home.ec2
        : build(keyOf('ec2', region, role), () => new EC2Client(config(region, role))),
    ssmIn: (region) =>
      region === settings.region
        ? home.ssm
        : build(keyOf('ssm', region), () => new SSMClient(config(region))),
    autoScalingIn: (region, role) =>
      region === settings.region && !role
        ? home.autoScaling
        : build(keyOf('autoscaling', region, role), () => new AutoScalingClient(config(region, role))),
    kmsIn: (region, role) =>
      build(keyOf('kms', region, role), () =>
        (reach ?? withoutCrossAccount(`KMS in ${region}`)).kmsClient(config(region, role)),
      ),
  };
}

/**
 * Credentials of `role`, assumed with the service's own (AssumeRole in the home region, with the
 * ExternalId the role's trust policy requires), kept until shortly before they expire; callers
 * that ask at once share one AssumeRole.
 */
function assumeRole(
  settings: AwsSettings,
  options: AwsClientOptions,
  role: AssumedRole,
  reach: CrossAccount,
): AwsCredentialIdentityProvider {
  let current: Promise<AwsCredentialIdentity> | undefined;
  return async () => {
    const held = current ? await current.catch(() => undefined) : undefined;
    const fresh =
      held && (!held.expiration || held.expiration.getTime() - Date.now() > REFRESH_BEFORE_EXPIRY_MS);
    if (!current || !fresh) current = reach.assumeRole(settings, options, role);
    return current;
  };
}
