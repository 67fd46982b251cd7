/**
 * Sharing an image with other accounts so their groups can launch it: its snapshots' keys checked
 * first (the AWS managed aws/ebs key cannot be shared), the snapshots shared (createVolumePermission,
 * so the accounts can also copy the image), and in each rollout target account a grant on the key
 * for that account's Auto Scaling service-linked role, made through the target role.
 *
 * AWS: https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html ,
 * https://docs.aws.amazon.com/ebs/latest/userguide/share-kms-key.html and
 * https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html
 */
import {
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  ModifySnapshotAttributeCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateGrantCommand, DescribeKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { partitionOf, type AssumedRole } from '../aws/regional';
import { describeError, isTransient, RefusedError } from '../errors';

/** What Auto Scaling needs of a customer managed key to launch from volumes it encrypts. */
export const AUTO_SCALING_KEY_OPERATIONS = [
  'Decrypt',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'CreateGrant',
  'DescribeKey',
] as const;

/** The grant's name: CreateGrant with a name it already has returns that grant, so a retry adds none. */
export const AUTO_SCALING_GRANT = 'ami-bakery-autoscaling';

/** What the key policy must allow a target account (docs/cross-account.md). */
const KEY_POLICY_ACTIONS =
  'kms:DescribeKey, kms:CreateGrant, kms:Decrypt, kms:GenerateDataKeyWithoutPlaintext and kms:ReEncrypt*';

export interface ShareClients {
  readonly ec2: Pick<EC2Client, 'send'>;
  readonly kms: Pick<KMSClient, 'send'>;
  /** KMS in a target account, through its role. */
  readonly kmsAs: (role: AssumedRole) => Pick<KMSClient, 'send'>;
}

export interface ShareRequest {
  readonly region: string;
  readonly imageId: string;
  readonly accounts: readonly string[];
  /** The rollout's target accounts in this region, each with the role that reaches it. */
  readonly targets: readonly { readonly account: string; readonly role: AssumedRole }[];
}

/** The snapshots of an image, and the key each is encrypted with (none: unencrypted). */
async function snapshotsOf(
  ec2: Pick<EC2Client, 'send'>,
  imageId: string,
): Promise<{ id: string; keyId?: string }[]> {
  const { Images: images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  const ids = images
    .flatMap((image) => image.BlockDeviceMappings ?? [])
    .flatMap((mapping) => (mapping.Ebs?.SnapshotId ? [mapping.Ebs.SnapshotId] : []));
  if (ids.length === 0) return [];
  const { Snapshots: snapshots = [] } = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: ids }));
  return snapshots.map((s) => ({
    id: s.SnapshotId ?? '',
    ...(s.Encrypted && s.KmsKeyId ? { keyId: s.KmsKeyId } : {}),
  }));
}

/**
 * Shares the image's snapshots with `accounts` and lets each target account's Auto Scaling use
 * their keys. Refuses, naming the account and what is missing, before anything is shared when a
 * key cannot be shared; a target account that cannot use a key fails here, before any rollout.
 */
export async function shareSnapshots(clients: ShareClients, request: ShareRequest): Promise<void> {
  if (request.accounts.length === 0) return;
  const snapshots = await snapshotsOf(clients.ec2, request.imageId);
  const keys = new Map<string, string>(); // key id as the snapshot names it -> its ARN
  for (const keyId of new Set(snapshots.flatMap((s) => (s.keyId ? [s.keyId] : [])))) {
    const { KeyMetadata: key } = await clients.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    if (key?.KeyManager === 'AWS')
      throw new RefusedError(
        'ManagedKeyNotShareable',
        `${request.imageId} in ${request.region} is encrypted with the AWS managed key ${key.Arn ?? keyId}, which cannot be shared with ${request.accounts.join(', ')}: encrypt with a customer managed key whose policy allows them (builder.rootVolume.kmsKeyId; distribute.kmsKeys for copies)`,
      );
    keys.set(keyId, key?.Arn ?? keyId);
  }
  for (const snapshot of snapshots) {
    await clients.ec2.send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: snapshot.id,
        Attribute: 'createVolumePermission',
        OperationType: 'add',
        UserIds: [...request.accounts],
      }),
    );
  }
  for (const { account, role } of request.targets) {
    for (const keyArn of keys.values()) {
      try {
        await clients.kmsAs(role).send(
          new CreateGrantCommand({
            KeyId: keyArn,
            GranteePrincipal: `arn:${partitionOf(request.region)}:iam::${account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
            Operations: [...AUTO_SCALING_KEY_OPERATIONS],
            Name: AUTO_SCALING_GRANT,
          }),
        );
      } catch (error) {
        if (isTransient(error)) throw error;
        const { code, message } = describeError(error);
        throw new RefusedError(
          'KeyNotUsableByAccount',
          `account ${account} cannot let its Auto Scaling use ${keyArn} in ${request.region} (${code}: ${message}): the key policy must allow ${account} ${KEY_POLICY_ACTIONS}, and ${role.roleArn} must allow kms:CreateGrant on the key`,
          { cause: error },
        );
      }
    }
  }
}
