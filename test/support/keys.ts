import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ADMIN_CREDENTIALS } from '../../emulator/harness';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { accountHeader, type TestAws } from './aws';

/**
 * A customer managed key in the test's account and `region` whose policy lets these accounts use
 * it: what an image shared with other accounts must be encrypted with (aws/ebs cannot be shared).
 */
export async function shareableKey(
  aws: TestAws,
  region: string,
  accounts: readonly string[],
): Promise<string> {
  const kms = new KMSClient({ region, credentials: ADMIN_CREDENTIALS });
  kms.middlewareStack.use(accountHeader(aws.accountId));
  const created = await kms.send(
    new CreateKeyCommand({
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [aws.accountId, ...accounts].map((account) => ({
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${account}:root` },
          Action: 'kms:*',
          Resource: '*',
        })),
      }),
    }),
  );
  return created.KeyMetadata?.Arn ?? '';
}

/** The pipeline encrypted with customer managed keys its accounts may use, at home and in each copy region. */
export async function withShareableKeys(aws: TestAws, pipeline: PipelineInput): Promise<PipelineInput> {
  const accounts = pipeline.distribute?.accounts ?? [];
  const regions = pipeline.distribute?.regions ?? [];
  const copies = await Promise.all(
    regions.map(async (r) => [r, await shareableKey(aws, r, accounts)] as const),
  );
  return {
    ...pipeline,
    builder: {
      ...pipeline.builder,
      rootVolume: { sizeGiB: 16, type: 'gp3', kmsKeyId: await shareableKey(aws, 'us-east-1', accounts) },
    },
    distribute: { ...pipeline.distribute, kmsKeys: Object.fromEntries(copies) },
  };
}
