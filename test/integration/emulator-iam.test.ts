import {
  AutoScalingClient,
  PutLifecycleHookCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateTagsCommand,
  DescribeImagesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../../emulator/sandbox';
import { createBakesTable } from '../../emulator/stack';
import { accountHeader, awsForTest, controlFor } from '../support/aws';

// The emulator authorizes every call of a registered principal as IAM would, and refuses an
// unknown caller; each behaviour below names the AWS page it follows.
const aws = awsForTest(import.meta.url);
const control = controlFor(aws);
const region = 'us-east-1';
let sandbox: Sandbox;
let table: string;

interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: unknown;
}

let registered = 0;
/** Clients signed as a new principal whose only policy holds `statements`. */
async function as(...statements: Statement[]) {
  registered += 1;
  const credentials = {
    accessKeyId: `ASIATEST${String(registered).padStart(12, '0')}`,
    secretAccessKey: 'x',
  };
  await control.registerPrincipals({
    principals: [
      {
        accessKeyId: credentials.accessKeyId,
        arn: `arn:aws:sts::${aws.accountId}:assumed-role/tester/${registered}`,
        label: `tester-${registered}`,
        policies: [{ name: 'p', policy: { Version: '2012-10-17', Statement: statements } }],
      },
    ],
  });
  return clientsWith(credentials);
}

function clientsWith(credentials: { accessKeyId: string; secretAccessKey: string }) {
  const config = { region, credentials, maxAttempts: 1 };
  const clients = {
    ec2: new EC2Client(config),
    autoScaling: new AutoScalingClient(config),
    ssm: new SSMClient(config),
    dynamodb: new DynamoDBClient(config),
    sns: new SNSClient(config),
    sqs: new SQSClient(config),
  };
  for (const client of Object.values(clients)) client.middlewareStack.use(accountHeader(aws.accountId));
  return clients;
}

async function failure(call: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await call;
  } catch (error) {
    const { name, message, $metadata } = error as Error & { $metadata?: { httpStatusCode?: number } };
    return { name, message, status: $metadata?.httpStatusCode };
  }
  throw new Error('the call was allowed');
}

const instanceArn = (id: string) => `arn:aws:ec2:${region}:${aws.accountId}:instance/${id}`;
const everyLaunchResource = [`arn:aws:ec2:${region}:${aws.accountId}:*`, `arn:aws:ec2:${region}::image/*`];

beforeAll(async () => {
  sandbox = await createSandbox(aws, { name: 'iam', desiredCapacity: 1 });
  table = await createBakesTable(aws, 'iam-bakes');
});

describe('callers', () => {
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html (an access key AWS
  // does not know) and each API's common errors for the code.
  it('refuses an unknown access key as each service does', async () => {
    const stranger = clientsWith({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' });

    expect(await failure(stranger.ec2.send(new DescribeImagesCommand({ Owners: ['self'] })))).toMatchObject({
      name: 'AuthFailure',
      status: 401,
    });
    expect(
      await failure(stranger.dynamodb.send(new GetItemCommand({ TableName: table, Key: {} }))),
    ).toMatchObject({
      name: 'UnrecognizedClientException',
    });
    expect(
      await failure(stranger.sns.send(new PublishCommand({ TopicArn: sandbox.topicArn, Message: 'x' }))),
    ).toMatchObject({
      name: 'InvalidClientTokenId',
      status: 403,
    });
  });
});

describe('a denied call', () => {
  it('fails with each service’s own error, and the log names the action, resource and reason', async () => {
    const nobody = await as({ Effect: 'Allow', Action: 'ec2:DescribeImages', Resource: '*' });
    const instanceId =
      (
        await aws.ec2.send(
          new RunInstancesCommand({ ImageId: sandbox.baseImageId, MinCount: 1, MaxCount: 1 }),
        )
      ).Instances?.[0]?.InstanceId ?? '';

    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html (UnauthorizedOperation,
    // with an encoded authorization failure message)
    const ec2 = await failure(nobody.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })));
    expect(ec2).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(ec2.message).toMatch(
      /not authorized to perform: ec2:TerminateInstances on resource: arn:aws:ec2:us-east-1:\d+:instance\/i-/,
    );
    expect(ec2.message).toMatch(/Encoded authorization failure message: \S+/);
    // https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html
    expect(
      await failure(
        nobody.autoScaling.send(
          new StartInstanceRefreshCommand({ AutoScalingGroupName: sandbox.autoScalingGroupName }),
        ),
      ),
    ).toMatchObject({ name: 'AccessDenied', status: 403 });
    // https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html
    expect(await failure(nobody.ssm.send(new GetParameterCommand({ Name: '/nothing' })))).toMatchObject({
      name: 'AccessDeniedException',
      status: 400,
    });
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html
    expect(
      await failure(nobody.dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'x' } } }))),
    ).toMatchObject({
      name: 'AccessDeniedException',
    });
    // https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html (code AuthorizationError, which
    // the SDK raises as its modeled AuthorizationErrorException)
    expect(
      await failure(nobody.sns.send(new PublishCommand({ TopicArn: sandbox.topicArn, Message: 'x' }))),
    ).toMatchObject({
      name: 'AuthorizationErrorException',
      status: 403,
    });
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html
    expect(
      await failure(
        nobody.sqs.send(new SendMessageCommand({ QueueUrl: sandbox.queueUrl, MessageBody: 'x' })),
      ),
    ).toMatchObject({
      name: 'AccessDenied',
      status: 403,
    });

    const denials = (await control.denials()).filter((d) => d.label === `tester-${registered}`);
    expect(denials.map((d) => d.action)).toEqual([
      'ec2:TerminateInstances',
      'autoscaling:StartInstanceRefresh',
      'ssm:GetParameter',
      'dynamodb:GetItem',
      'sns:Publish',
      'sqs:SendMessage',
    ]);
    expect(denials[0]).toMatchObject({
      resource: instanceArn(instanceId),
      reason: 'because no identity-based policy allows the ec2:TerminateInstances action',
    });
  });

  it('is allowed or refused by the resource’s tags (aws:ResourceTag)', async () => {
    const caller = await as({
      Effect: 'Allow',
      Action: 'ec2:TerminateInstances',
      Resource: '*',
      Condition: { StringEquals: { 'aws:ResourceTag/owner': 'me' } },
    });
    const launch = async (owner: string) =>
      (
        await aws.ec2.send(
          new RunInstancesCommand({
            ImageId: sandbox.baseImageId,
            MinCount: 1,
            MaxCount: 1,
            TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'owner', Value: owner }] }],
          }),
        )
      ).Instances?.[0]?.InstanceId ?? '';
    const mine = await launch('me');
    const theirs = await launch('someone');

    await caller.ec2.send(new TerminateInstancesCommand({ InstanceIds: [mine] }));
    expect(
      await failure(caller.ec2.send(new TerminateInstancesCommand({ InstanceIds: [theirs] }))),
    ).toMatchObject({
      name: 'UnauthorizedOperation',
    });
  });

  it('is refused by an explicit deny, whatever allows it', async () => {
    const caller = await as(
      { Effect: 'Allow', Action: 'ec2:CreateTags', Resource: '*' },
      {
        Effect: 'Deny',
        Action: 'ec2:CreateTags',
        Resource: '*',
        Condition: { StringEquals: { 'aws:RequestTag/owner': 'root' } },
      },
    );
    const image = sandbox.baseImageId;

    const denied = await failure(
      caller.ec2.send(new CreateTagsCommand({ Resources: [image], Tags: [{ Key: 'owner', Value: 'root' }] })),
    );
    expect(denied.message).toMatch(/with an explicit deny in an identity-based policy/);
  });
});

describe('what AWS authorizes on the caller’s behalf', () => {
  const runInstances = (ec2: EC2Client, extra: object = {}) =>
    ec2.send(
      new RunInstancesCommand({
        ImageId: sandbox.baseImageId,
        MinCount: 1,
        MaxCount: 1,
        SubnetId: sandbox.subnetIds[0],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'a' }] }],
        ...extra,
      }),
    );

  // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html
  it('tag on create: ec2:CreateTags with ec2:CreateAction for each tag specification', async () => {
    const launchOnly = await as({
      Effect: 'Allow',
      Action: 'ec2:RunInstances',
      Resource: everyLaunchResource,
    });
    const launchAndTag = await as(
      { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: everyLaunchResource },
      {
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: '*',
        Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      },
    );

    expect((await failure(runInstances(launchOnly.ec2))).message).toMatch(
      /ec2:CreateTags on resource: .*instance\//,
    );
    expect((await runInstances(launchAndTag.ec2)).Instances).toHaveLength(1);
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
  it('iam:PassRole for the role of the instance profile, to EC2 only', async () => {
    const launch = [
      {
        Effect: 'Allow' as const,
        Action: ['ec2:RunInstances', 'ec2:CreateTags'],
        Resource: everyLaunchResource,
      },
    ];
    const noPass = await as(...launch);
    const passToLambda = await as(...launch, {
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: '*',
      Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
    });
    const passToEc2 = await as(...launch, {
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: `arn:aws:iam::${aws.accountId}:role/${sandbox.roleName}`,
      Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    });
    const profile = { IamInstanceProfile: { Name: sandbox.instanceProfileName } };

    expect((await failure(runInstances(noPass.ec2, profile))).message).toMatch(
      /iam:PassRole on resource: arn:aws:iam::\d+:role\//,
    );
    expect(await failure(runInstances(passToLambda.ec2, profile))).toMatchObject({
      name: 'UnauthorizedOperation',
    });
    expect((await runInstances(passToEc2.ec2, profile)).Instances).toHaveLength(1);
  });

  // https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-ec2-aliases.html
  it('ssm:PutParameter of an aws:ec2:image parameter needs ec2:DescribeImages', async () => {
    const put = {
      Effect: 'Allow' as const,
      Action: 'ssm:PutParameter',
      Resource: `arn:aws:ssm:${region}:${aws.accountId}:parameter/images/*`,
    };
    const withoutDescribe = await as(put);
    const withDescribe = await as(put, { Effect: 'Allow', Action: 'ec2:DescribeImages', Resource: '*' });
    const parameter = (name: string) =>
      new PutParameterCommand({
        Name: `/images/${name}`,
        Value: sandbox.baseImageId,
        Type: 'String',
        DataType: 'aws:ec2:image',
      });

    expect((await failure(withoutDescribe.ssm.send(parameter('a')))).message).toMatch(/ec2:DescribeImages/);
    await withDescribe.ssm.send(parameter('b'));
  });

  // https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-launch-template-permissions.html
  it("StartInstanceRefresh to a template version needs RunInstances on the template's resources and PassRole", async () => {
    const groupArn = `arn:aws:autoscaling:${region}:${aws.accountId}:autoScalingGroup:*:autoScalingGroupName/*`;
    const refreshOnly = await as({
      Effect: 'Allow',
      Action: 'autoscaling:StartInstanceRefresh',
      Resource: groupArn,
    });
    const refreshAndLaunch = await as(
      { Effect: 'Allow', Action: 'autoscaling:StartInstanceRefresh', Resource: groupArn },
      { Effect: 'Allow', Action: 'ec2:RunInstances', Resource: everyLaunchResource },
      {
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: '*',
        Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      },
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: `arn:aws:iam::${aws.accountId}:role/${sandbox.roleName}`,
      },
    );
    const refresh = new StartInstanceRefreshCommand({
      AutoScalingGroupName: sandbox.autoScalingGroupName,
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: sandbox.launchTemplateId, Version: '1' } },
    });

    const denied = await failure(refreshOnly.autoScaling.send(refresh));
    expect(denied).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(denied.message).toMatch(
      new RegExp(`You are not authorized to use launch template: ${sandbox.launchTemplateId}`),
    );
    expect((await refreshAndLaunch.autoScaling.send(refresh)).InstanceRefreshId).toBeTruthy();
  });

  // https://docs.aws.amazon.com/autoscaling/ec2/userguide/prepare-for-lifecycle-notifications.html
  it('a lifecycle hook is refused when its role cannot publish the test notification', async () => {
    const hook = (roleArn?: string) =>
      aws.autoScaling.send(
        new PutLifecycleHookCommand({
          AutoScalingGroupName: sandbox.autoScalingGroupName,
          LifecycleHookName: 'ready',
          LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
          NotificationTargetARN: sandbox.topicArn,
          ...(roleArn ? { RoleARN: roleArn } : {}),
        }),
      );
    const elsewhere = `arn:aws:iam::${aws.accountId}:role/publishes-elsewhere`;
    await control.registerPrincipals({
      roles: [
        {
          arn: elsewhere,
          policies: [
            {
              name: 'p',
              policy: {
                Version: '2012-10-17',
                Statement: [
                  { Effect: 'Allow', Action: 'sns:Publish', Resource: `${sandbox.topicArn}-other` },
                ],
              },
            },
          ],
        },
      ],
    });

    for (const role of [undefined, elsewhere, `arn:aws:iam::${aws.accountId}:role/does-not-exist`]) {
      const refused = await failure(hook(role));
      expect(refused).toMatchObject({ name: 'ValidationError' });
      expect(refused.message).toMatch(/Unable to publish test message to notification target/);
    }
  });
});
