import {
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CopyImageCommand,
  CreateImageCommand,
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  RunInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateGrantCommand, CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CREDENTIALS } from '../../emulator/harness';
import { AUTO_SCALING_KEY_OPERATIONS } from '../../lib/bake/share';
import { accountHeader, awsForTest, controlFor, eventually, refusal } from '../support/aws';
import { shareableKey } from '../support/keys';

// Where sharing an image meets KMS (emulator/bakery/kms.py): the AWS managed aws/ebs key cannot
// be shared ("Snapshots encrypted with your default KMS key cannot be shared with other
// accounts", API_ModifySnapshotAttribute); another account uses a customer managed key only as
// its key policy allows; Auto Scaling in another account launches from such an image only with a
// grant for its service-linked role ("Required AWS KMS key policy for use with encrypted volumes").
const tooling = awsForTest(`${import.meta.url}#tooling`);
const workload = awsForTest(`${import.meta.url}#workload`);
const region = 'us-east-1';
const autoScalingRole = `arn:aws:iam::${workload.accountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;
const operations = AUTO_SCALING_KEY_OPERATIONS;

/** An image of an instance whose root volume is encrypted with `kmsKeyId` (the default key when absent). */
async function imageEncryptedWith(
  ec2: EC2Client,
  kmsKeyId?: string,
): Promise<{ imageId: string; snapshotId: string }> {
  const launched = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      MinCount: 1,
      MaxCount: 1,
      InstanceType: 't3.micro',
      BlockDeviceMappings: [
        {
          DeviceName: '/dev/xvda',
          Ebs: { VolumeSize: 8, Encrypted: true, ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}) },
        },
      ],
    }),
  );
  const instanceId = launched.Instances?.[0]?.InstanceId ?? '';
  const { ImageId: imageId = '' } = await ec2.send(
    new CreateImageCommand({
      InstanceId: instanceId,
      Name: `shared-${Date.now()}-${Math.random()}`,
      NoReboot: true,
    }),
  );
  const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  const snapshotId =
    images.Images?.[0]?.BlockDeviceMappings?.find((m) => m.Ebs?.SnapshotId)?.Ebs?.SnapshotId ?? '';
  return { imageId, snapshotId };
}

/** KMS in the workload account, signed as a principal there whose only policy allows `actions`. */
let registered = 0;
async function workloadKms(actions: string[]): Promise<KMSClient> {
  registered += 1;
  const credentials = { accessKeyId: `ASIAKMS${String(registered).padStart(13, '0')}`, secretAccessKey: 'x' };
  await controlFor(workload).registerPrincipals({
    principals: [
      {
        accessKeyId: credentials.accessKeyId,
        arn: `arn:aws:iam::${workload.accountId}:role/ami-bakery-target`,
        label: `kms-${registered}`,
        policies: [
          {
            name: 'p',
            policy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }],
            },
          },
        ],
      },
    ],
  });
  const kms = new KMSClient({ region, credentials, maxAttempts: 1 });
  kms.middlewareStack.use(accountHeader(workload.accountId));
  return kms;
}

let sharedKey = '';
let privateKey = '';

beforeAll(async () => {
  sharedKey = await shareableKey(tooling, region, [workload.accountId]);
  privateKey = await shareableKey(tooling, region, []);
});

describe('KMS and image sharing across accounts', () => {
  it('encrypts an image with its volume key; the AWS managed aws/ebs key is AWS managed and its snapshots cannot be shared', async () => {
    const { snapshotId } = await imageEncryptedWith(tooling.ec2);
    const snapshot = (await tooling.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })))
      .Snapshots?.[0];
    const key = await tooling.kms.send(new DescribeKeyCommand({ KeyId: snapshot?.KmsKeyId ?? '' }));

    expect(snapshot?.Encrypted).toBe(true);
    expect(key.KeyMetadata?.KeyManager).toBe('AWS');
    expect(
      await refusal(
        tooling.ec2.send(
          new ModifySnapshotAttributeCommand({
            SnapshotId: snapshotId,
            Attribute: 'createVolumePermission',
            OperationType: 'add',
            UserIds: [workload.accountId],
          }),
        ),
      ),
    ).toBe(
      "InvalidParameter: Snapshots encrypted with the AWS Managed CMK can't be shared. Specify another snapshot.",
    );
  });

  it('shares snapshots under a customer managed key; another account reaches the key by ARN only as its policy allows', async () => {
    const { snapshotId } = await imageEncryptedWith(tooling.ec2, sharedKey);
    await tooling.ec2.send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: snapshotId,
        Attribute: 'createVolumePermission',
        OperationType: 'add',
        UserIds: [workload.accountId],
      }),
    );
    const kms = await workloadKms(['kms:DescribeKey', 'kms:CreateGrant']);
    const grant = () =>
      new CreateGrantCommand({
        KeyId: sharedKey,
        GranteePrincipal: autoScalingRole,
        Operations: [...operations],
        Name: 'asg',
      });

    const snapshot = (await tooling.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })))
      .Snapshots?.[0];
    const described = await kms.send(new DescribeKeyCommand({ KeyId: sharedKey }));
    const first = await kms.send(grant());
    const again = await kms.send(grant());

    expect(snapshot?.KmsKeyId).toBe(sharedKey);
    expect(described.KeyMetadata?.KeyManager).toBe('CUSTOMER');
    expect(again.GrantId).toBe(first.GrantId); // a retry with the same name adds no grant
    expect(await refusal(kms.send(new DescribeKeyCommand({ KeyId: privateKey })))).toMatch(
      /^AccessDeniedException: User: arn:aws:iam::\d+:role\/ami-bakery-target is not authorized to perform: kms:DescribeKey on resource: arn:aws:kms:/,
    );
    // The caller's own policy counts too: without kms:CreateGrant, the key policy alone is not enough.
    const readOnly = await workloadKms(['kms:DescribeKey']);
    expect(await refusal(readOnly.send(grant()))).toMatch(/^AccessDeniedException: .* kms:CreateGrant/);
  });

  it('encrypts a copy with the key CopyImage names, else the region default', async () => {
    const { imageId } = await imageEncryptedWith(tooling.ec2, sharedKey);
    const copyKey = await tooling.kms.send(new CreateKeyCommand({})).then((k) => k.KeyMetadata?.Arn ?? '');
    const copy = async (KmsKeyId?: string) => {
      const { ImageId = '' } = await tooling.ec2.send(
        new CopyImageCommand({
          SourceImageId: imageId,
          SourceRegion: region,
          Name: `copy-${Math.random()}`,
          Encrypted: true,
          ...(KmsKeyId ? { KmsKeyId } : {}),
        }),
      );
      const image = (await tooling.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId] }))).Images?.[0];
      const snapshotId = image?.BlockDeviceMappings?.find((m) => m.Ebs?.SnapshotId)?.Ebs?.SnapshotId ?? '';
      const snapshot = (await tooling.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })))
        .Snapshots?.[0];
      return snapshot?.KmsKeyId ?? '';
    };

    const named = await copy(copyKey);
    const byDefault = await copy();
    const defaultKey = await tooling.kms.send(new DescribeKeyCommand({ KeyId: byDefault }));

    expect(named).toBe(copyKey);
    expect(defaultKey.KeyMetadata?.KeyManager).toBe('AWS');
  });

  it("lets another account's Auto Scaling launch a shared image only with a grant for its service-linked role", async () => {
    // A key of its own: the grant another test made on sharedKey would let this launch through.
    const fleetKey = await shareableKey(tooling, region, [workload.accountId]);
    const { imageId } = await imageEncryptedWith(tooling.ec2, fleetKey);
    const refreshTo = async (group: string): Promise<{ status?: string; reason?: string }> => {
      const template = await workload.ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: `${group}-template`,
          LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
        }),
      );
      const templateId = template.LaunchTemplate?.LaunchTemplateId ?? '';
      await workload.autoScaling.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: group,
          MinSize: 1,
          MaxSize: 2,
          DesiredCapacity: 1,
          AvailabilityZones: ['us-east-1a'],
          LaunchTemplate: { LaunchTemplateId: templateId, Version: '1' },
        }),
      );
      await workload.ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: templateId,
          SourceVersion: '1',
          LaunchTemplateData: { ImageId: imageId },
        }),
      );
      await eventually(
        async () => {
          const found = await workload.autoScaling.send(
            new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
          );
          const instances = found.AutoScalingGroups?.[0]?.Instances ?? [];
          return instances.some((i) => i.LifecycleState === 'InService') ? true : undefined;
        },
        { timeoutMs: 30_000, what: `${group} in service` },
      );
      const started = await workload.autoScaling.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: group,
          DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: '2' } },
          Preferences: { MinHealthyPercentage: 0, InstanceWarmup: 0 },
        }),
      );
      return eventually(
        async () => {
          const refreshes = await workload.autoScaling.send(
            new DescribeInstanceRefreshesCommand({
              AutoScalingGroupName: group,
              InstanceRefreshIds: [started.InstanceRefreshId ?? ''],
            }),
          );
          const refresh = refreshes.InstanceRefreshes?.[0];
          return ['Successful', 'Failed'].includes(refresh?.Status ?? '')
            ? { status: refresh?.Status, reason: refresh?.StatusReason }
            : undefined;
        },
        { timeoutMs: 30_000, what: `the refresh of ${group}` },
      );
    };

    // Not shared yet: the image does not exist for the workload account.
    expect(
      await refusal(
        workload.ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 })),
      ),
    ).toMatch(/^InvalidAMIID.NotFound/);
    await tooling.ec2.send(
      new ModifyImageAttributeCommand({
        ImageId: imageId,
        LaunchPermission: { Add: [{ UserId: workload.accountId }] },
      }),
    );

    const withoutGrant = await refreshTo('no-grant');
    const kms = new KMSClient({ region, credentials: ADMIN_CREDENTIALS });
    kms.middlewareStack.use(accountHeader(workload.accountId));
    await kms.send(
      new CreateGrantCommand({
        KeyId: fleetKey,
        GranteePrincipal: autoScalingRole,
        Operations: [...operations],
        Name: 'asg',
      }),
    );
    const withGrant = await refreshTo('with-grant');

    expect(withoutGrant).toEqual({
      status: 'Failed',
      reason: 'An instance failed to launch: Client.InternalError: Client error on launch',
    });
    expect(withGrant.status).toBe('Successful');
  });
});
