import {
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  ModifySnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { CreateGrantCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AssumedRole } from '../../lib/aws/regional';
import { AUTO_SCALING_GRANT, AUTO_SCALING_KEY_OPERATIONS, shareSnapshots } from '../../lib/bake/share';

// Sharing an image's snapshots, call by call: the key check first, the snapshots, then a grant in
// each target account through its role. The whole path against the emulator, with two accounts, is
// test/integration/rollout-accounts.test.ts.

const ec2 = mockClient(EC2Client);
const kms = mockClient(KMSClient);
const KEY = 'arn:aws:kms:us-east-1:111111111111:key/k-1';
const role: AssumedRole = {
  roleArn: 'arn:aws:iam::222222222222:role/ami-bakery-target',
  externalId: 'ext-1',
  sessionName: 'b20261130120000-abcdef',
};
const roles: AssumedRole[] = [];
const clients = {
  ec2: new EC2Client({}),
  kms: new KMSClient({}),
  kmsAs: (as: AssumedRole) => {
    roles.push(as);
    return new KMSClient({});
  },
};
const request = {
  region: 'us-east-1',
  imageId: 'ami-1',
  accounts: ['222222222222', '333333333333'],
  targets: [{ account: '222222222222', role }],
};

/** The error a call ends with (the test fails if it ends without one). */
async function refusal(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  throw new Error('the call succeeded');
}

function image(snapshots: { id: string; keyId?: string }[]): void {
  ec2.on(DescribeImagesCommand).resolves({
    Images: [{ BlockDeviceMappings: snapshots.map((s) => ({ Ebs: { SnapshotId: s.id } })) }],
  });
  ec2.on(DescribeSnapshotsCommand).resolves({
    Snapshots: snapshots.map((s) => ({
      SnapshotId: s.id,
      Encrypted: s.keyId !== undefined,
      ...(s.keyId ? { KmsKeyId: s.keyId } : {}),
    })),
  });
}

describe('sharing an image’s snapshots with other accounts', () => {
  beforeEach(() => {
    ec2.reset();
    kms.reset();
    roles.length = 0;
  });

  it('shares each snapshot, then grants the target account’s Auto Scaling the key through its role', async () => {
    image([{ id: 'snap-1', keyId: KEY }]);
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k-1', Arn: KEY, KeyManager: 'CUSTOMER' } });
    kms.on(CreateGrantCommand).resolves({ GrantId: 'g-1' });

    await shareSnapshots(clients, request);

    expect(ec2.commandCalls(ModifySnapshotAttributeCommand).map((c) => c.args[0].input)).toEqual([
      {
        SnapshotId: 'snap-1',
        Attribute: 'createVolumePermission',
        OperationType: 'add',
        UserIds: ['222222222222', '333333333333'],
      },
    ]);
    expect(kms.commandCalls(CreateGrantCommand).map((c) => c.args[0].input)).toEqual([
      {
        KeyId: KEY,
        GranteePrincipal:
          'arn:aws:iam::222222222222:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling',
        Operations: [...AUTO_SCALING_KEY_OPERATIONS],
        Name: AUTO_SCALING_GRANT,
      },
    ]);
    expect(roles).toEqual([role]);
  });

  it('refuses an image under the AWS managed key before sharing anything, naming the accounts', async () => {
    image([{ id: 'snap-1', keyId: 'alias/aws/ebs' }]);
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k-ebs', Arn: KEY, KeyManager: 'AWS' } });

    const refused = await refusal(shareSnapshots(clients, request));

    expect(refused).toMatchObject({ name: 'ManagedKeyNotShareable' });
    expect(refused.message).toBe(
      `ami-1 in us-east-1 is encrypted with the AWS managed key ${KEY}, which cannot be shared with 222222222222, 333333333333: encrypt with a customer managed key whose policy allows them (builder.rootVolume.kmsKeyId; distribute.kmsKeys for copies)`,
    );
    expect(ec2.commandCalls(ModifySnapshotAttributeCommand)).toEqual([]);
    expect(kms.commandCalls(CreateGrantCommand)).toEqual([]);
  });

  it('names the account, the key, AWS’s refusal and the key policy it needs when the grant is refused', async () => {
    image([{ id: 'snap-1', keyId: KEY }]);
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k-1', Arn: KEY, KeyManager: 'CUSTOMER' } });
    kms
      .on(CreateGrantCommand)
      .rejects(Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' }));

    const refused = await refusal(shareSnapshots(clients, request));

    expect(refused).toMatchObject({ name: 'KeyNotUsableByAccount' });
    expect(refused.message).toBe(
      `account 222222222222 cannot let its Auto Scaling use ${KEY} in us-east-1 (AccessDeniedException: not allowed): the key policy must allow 222222222222 kms:DescribeKey, kms:CreateGrant, kms:Decrypt, kms:GenerateDataKeyWithoutPlaintext and kms:ReEncrypt*, and ${role.roleArn} must allow kms:CreateGrant on the key`,
    );
  });

  it('retries throttling rather than failing the bake on it', async () => {
    image([{ id: 'snap-1', keyId: KEY }]);
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k-1', Arn: KEY, KeyManager: 'CUSTOMER' } });
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
      $retryable: { throttling: true },
    });
    kms.on(CreateGrantCommand).rejects(throttled);

    await expect(shareSnapshots(clients, request)).rejects.toBe(throttled);
  });

  it('shares unencrypted snapshots with no key to check or grant, and nothing for no accounts', async () => {
    image([{ id: 'snap-1' }]);

    await shareSnapshots(clients, request);
    await shareSnapshots(clients, { ...request, accounts: [] });

    expect(kms.calls()).toEqual([]);
    expect(ec2.commandCalls(ModifySnapshotAttributeCommand)).toHaveLength(1);
    expect(ec2.commandCalls(DescribeImagesCommand)).toHaveLength(1);
  });
});
