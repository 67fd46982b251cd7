import { KMSClient } from '@aws-sdk/client-kms';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { AwsClientOptions } from './clients';
import type { AssumedRole, CrossAccount } from './regional';
import { clientConfig, type AwsSettings } from './settings';

/**
 * KMS, and STS to act in other accounts: what only the reconcile function calls (sharing an image
 * under its keys, rolling out to another account's groups). Given to `createRegionalClients` by
 * the functions that need it, so the others' bundles do not load either client (about 57 KiB of
 * each, docs/benchmarks.md, Cold start).
 */
export const crossAccount: CrossAccount = {
  kmsClient: (config) => new KMSClient(config),
  assumeRole,
};

async function assumeRole(
  settings: AwsSettings,
  options: AwsClientOptions,
  role: AssumedRole,
): Promise<AwsCredentialIdentity> {
  const sts = new STSClient(clientConfig(settings, settings.region, options.credentials));
  options.instrument?.(sts);
  const { Credentials: credentials } = await sts.send(
    new AssumeRoleCommand({
      RoleArn: role.roleArn,
      RoleSessionName: role.sessionName,
      ExternalId: role.externalId,
      DurationSeconds: 3_600,
    }),
  );
  if (!credentials?.AccessKeyId || !credentials.SecretAccessKey)
    throw new Error(`AssumeRole of ${role.roleArn} returned no credentials`);
  return {
    accessKeyId: credentials.AccessKeyId,
    secretAccessKey: credentials.SecretAccessKey,
    ...(credentials.SessionToken ? { sessionToken: credentials.SessionToken } : {}),
    ...(credentials.Expiration ? { expiration: credentials.Expiration } : {}),
  };
}
