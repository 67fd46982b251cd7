/**
 * `npm run bench` (emulator part): how the emulator's answers hold up as instances come and go.
 * Latency of the calls the service makes every pass — DescribeInstances by a bake's tag and by
 * ids, DescribeAutoScalingGroups of one group — with 1,000 live instances, after 10,000 launches
 * (9,000 of them terminated), and once those terminated ones are past the hour AWS keeps showing
 * them. `BENCH_SCALE_LAUNCHES` (default 10,000) and `BENCH_SCALE_LIVE` (1,000) size it.
 * Then the writes every pass makes — TransactWriteItems, SQS SendMessage, SNS Publish to a
 * topic a queue subscribes to — into an empty table and queue, and once 3,000 items and 3,000
 * messages wait there (`BENCH_SCALE_ITEMS`).
 */
import {
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, PublishCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { percentile, type Figure } from './figures';
import type { LocalEnvironment } from '../scripts/local/environment';

const LIVE = Number(process.env.BENCH_SCALE_LIVE ?? 1_000);
const LAUNCHES = Number(process.env.BENCH_SCALE_LAUNCHES ?? 10_000);
const ITEMS = Number(process.env.BENCH_SCALE_ITEMS ?? 3_000);
const BATCH = 100;
const SAMPLES = 30;
const COMMAND = 'BENCH_ONLY=emulator npm run bench';

export interface ScaleStage {
  readonly stage: string;
  readonly listed: number;
  readonly byTag: number;
  readonly byIds: number;
  readonly group: number;
}

async function timed(call: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return percentile(samples, 50);
}

export async function benchEmulatorScale(
  local: LocalEnvironment,
  out: (line?: string) => void,
): Promise<Figure[]> {
  const { aws, sandbox } = local;
  const control = local.control;
  if (!control) throw new Error('the emulator benchmark needs the emulator extension');
  // Fast transitions, and an hour that passes in 3.6 s: the wait for AWS to forget is short here.
  await control.configure({ timeScale: 0.001 });
  // Room for every launch: moto never gives a terminated instance's address back.
  const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: '10.60.0.0/16' }));
  const subnet = await aws.ec2.send(
    new CreateSubnetCommand({
      VpcId: vpc.Vpc?.VpcId,
      CidrBlock: '10.60.0.0/17',
      AvailabilityZone: 'us-east-1a',
    }),
  );
  const subnetId = subnet.Subnet?.SubnetId;
  const launch = async (count: number, tag: string): Promise<Instance[]> => {
    const made: Instance[] = [];
    for (let left = count; left > 0; left -= BATCH) {
      const n = Math.min(BATCH, left);
      const answer = await aws.ec2.send(
        new RunInstancesCommand({
          ImageId: sandbox.baseImageId,
          InstanceType: 't3.micro',
          MinCount: n,
          MaxCount: n,
          SubnetId: subnetId,
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'bench', Value: tag }] }],
        }),
      );
      made.push(...(answer.Instances ?? []));
    }
    return made;
  };
  await aws.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: 'scale-probe',
      LaunchTemplate: { LaunchTemplateId: sandbox.launchTemplateId, Version: '$Default' },
      MinSize: 2,
      MaxSize: 2,
      DesiredCapacity: 2,
      VPCZoneIdentifier: sandbox.subnetIds.join(','),
    }),
  );
  const probe = (await launch(5, 'probe')).map((i) => i.InstanceId ?? '');

  const measure = async (stage: string): Promise<ScaleStage> => {
    const all = await aws.ec2.send(new DescribeInstancesCommand({ MaxResults: 1000 }));
    const listed = (all.Reservations ?? []).reduce((n, r) => n + (r.Instances?.length ?? 0), 0);
    const result = {
      stage,
      listed,
      byTag: await timed(() =>
        aws.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:bench', Values: ['probe'] }] })),
      ),
      byIds: await timed(() => aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: probe }))),
      group: await timed(() =>
        aws.autoScaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['scale-probe'] }),
        ),
      ),
    };
    out(
      `emulator: ${stage}: DescribeInstances by tag ${result.byTag.toFixed(1)} ms, by ids ${result.byIds.toFixed(1)} ms, DescribeAutoScalingGroups ${result.group.toFixed(1)} ms (first page lists ${listed})`,
    );
    return result;
  };

  await launch(LIVE, 'live');
  const live = await measure(`${LIVE} live instances`);
  let launched = LIVE;
  const started = Date.now();
  while (launched < LAUNCHES) {
    const batch = await launch(Math.min(BATCH * 5, LAUNCHES - launched), 'churn');
    launched += batch.length;
    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: batch.map((i) => i.InstanceId ?? '') }));
  }
  out(`emulator: ${launched} launches in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const churned = await measure(`after ${LAUNCHES} launches`);
  // AWS shows a terminated instance for about an hour; 3.6 s here, and a few ticks to forget them.
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  const forgotten = await measure(`after ${LAUNCHES} launches, an hour later`);

  const ratio = (stage: ScaleStage) =>
    Math.max(stage.byTag / live.byTag, stage.byIds / live.byIds, stage.group / live.group);
  const figure = (stage: ScaleStage): Figure => ({
    figure: `emulator: DescribeInstances by tag / by ids, DescribeAutoScalingGroups, ${stage.stage}`,
    value: `${stage.byTag.toFixed(1)} / ${stage.byIds.toFixed(1)} / ${stage.group.toFixed(1)} ms`,
    target: stage === live ? '-' : '<= 2 × the 1,000-live figures',
    ...(stage === live ? {} : { met: ratio(stage) <= 2 }),
    command: COMMAND,
  });
  return [figure(live), figure(churned), figure(forgotten), ...(await benchWrites(local, out))];
}

interface WriteStage {
  readonly stage: string;
  readonly transact: number;
  readonly send: number;
  readonly publish: number;
}

/** The writes a pass makes, into an empty table and queue, then with ITEMS of each waiting. */
async function benchWrites(local: LocalEnvironment, out: (line?: string) => void): Promise<Figure[]> {
  const { aws } = local;
  const table = 'scale-writes';
  await aws.dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
  const { QueueUrl } = await aws.sqs.send(new CreateQueueCommand({ QueueName: 'scale-writes' }));
  const { Attributes } = await aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const { TopicArn } = await aws.sns.send(new CreateTopicCommand({ Name: 'scale-writes' }));
  await aws.sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }));
  const record = { data: { S: 'x'.repeat(2_000) }, n: { N: '0' } };
  let written = 0;
  const measure = async (stage: string): Promise<WriteStage> => {
    const result = {
      stage,
      // A record's commit: its new version and an outbox entry, in one transaction.
      transact: await timed(async () => {
        written += 1;
        await aws.dynamodb.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: { TableName: table, Item: { pk: { S: `probe-${written}` }, ...record } } },
              {
                Update: {
                  TableName: table,
                  Key: { pk: { S: 'counter' } },
                  UpdateExpression: 'ADD n :one',
                  ExpressionAttributeValues: { ':one': { N: '1' } },
                },
              },
            ],
          }),
        );
      }),
      send: await timed(() =>
        aws.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'timer', DelaySeconds: 900 })),
      ),
      publish: await timed(() => aws.sns.send(new PublishCommand({ TopicArn, Message: 'milestone' }))),
    };
    out(
      `emulator: ${stage}: TransactWriteItems ${result.transact.toFixed(1)} ms, SendMessage ${result.send.toFixed(1)} ms, Publish to a subscribed queue ${result.publish.toFixed(1)} ms`,
    );
    return result;
  };
  const empty = await measure('an empty table and queue');
  for (let i = 0; i < ITEMS; i += 25)
    await aws.dynamodb.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [table]: Array.from({ length: Math.min(25, ITEMS - i) }, (_, j) => ({
            PutRequest: { Item: { pk: { S: `item-${i + j}` }, ...record } },
          })),
        },
      }),
    );
  for (let i = 0; i < ITEMS; i += 10)
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: Array.from({ length: Math.min(10, ITEMS - i) }, (_, j) => ({
          Id: String(j),
          MessageBody: `waiting-${i + j}`,
          DelaySeconds: 900,
        })),
      }),
    );
  const full = await measure(`${ITEMS} items and ${ITEMS} messages waiting`);
  const ratio = Math.max(
    full.transact / empty.transact,
    full.send / empty.send,
    full.publish / empty.publish,
  );
  const figure = (stage: WriteStage, last: boolean): Figure => ({
    figure: `emulator: TransactWriteItems / SQS SendMessage / SNS Publish to a subscribed queue, ${stage.stage}`,
    value: `${stage.transact.toFixed(1)} / ${stage.send.toFixed(1)} / ${stage.publish.toFixed(1)} ms`,
    target: last ? '<= 2 × the empty figures' : '-',
    ...(last ? { met: ratio <= 2 } : {}),
    command: COMMAND,
  });
  return [figure(empty, false), figure(full, true)];
}
