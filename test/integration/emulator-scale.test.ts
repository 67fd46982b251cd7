import {
  CreateTableCommand,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsForTest, refusal } from '../support/aws';

// emulator/bakery/scale.py: moto's answers, kept, at a cost that no longer grows with the state.
const aws = awsForTest(import.meta.url);
const TABLE = 'scale-items';

const key = (pk: string, sk = 'v'): Record<string, AttributeValue> => ({ pk: { S: pk }, sk: { S: sk } });

async function read(pk: string, sk = 'v'): Promise<Record<string, AttributeValue> | undefined> {
  return (
    await aws.dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: key(pk, sk), ConsistentRead: true }))
  ).Item;
}

async function put(pk: string, n: number, sk = 'v'): Promise<void> {
  await aws.dynamodb.send(
    new PutItemCommand({ TableName: TABLE, Item: { ...key(pk, sk), n: { N: String(n) } } }),
  );
}

beforeAll(async () => {
  await aws.dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
});

// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
describe('TransactWriteItems, its items backed up rather than its tables', () => {
  it('applies every action of a transaction whose conditions hold', async () => {
    await put('kept', 1);
    await put('gone', 1);
    await aws.dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: TABLE, Item: { ...key('new'), n: { N: '7' } } } },
          {
            Update: {
              TableName: TABLE,
              Key: key('kept'),
              UpdateExpression: 'SET n = n + :one',
              ExpressionAttributeValues: { ':one': { N: '1' } },
            },
          },
          { Delete: { TableName: TABLE, Key: key('gone') } },
        ],
      }),
    );
    expect((await read('new'))?.n).toEqual({ N: '7' });
    expect((await read('kept'))?.n).toEqual({ N: '2' });
    expect(await read('gone')).toBeUndefined();
  });

  it('changes nothing when a later condition fails: a put undone, an update and a delete put back', async () => {
    await put('a', 1);
    await put('b', 1);
    await put('b', 5, 'other'); // the same partition, another sort key: untouched either way
    await put('guard', 1);
    const error = await aws.dynamodb
      .send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: TABLE, Item: { ...key('fresh'), n: { N: '1' } } } },
            {
              Update: {
                TableName: TABLE,
                Key: key('a'),
                UpdateExpression: 'SET n = :nine',
                ExpressionAttributeValues: { ':nine': { N: '9' } },
              },
            },
            { Delete: { TableName: TABLE, Key: key('b') } },
            {
              ConditionCheck: {
                TableName: TABLE,
                Key: key('guard'),
                ConditionExpression: 'n = :two',
                ExpressionAttributeValues: { ':two': { N: '2' } },
              },
            },
          ],
        }),
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect((error as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual([
      'None',
      'None',
      'None',
      'ConditionalCheckFailed',
    ]);
    expect(await read('fresh')).toBeUndefined();
    expect((await read('a'))?.n).toEqual({ N: '1' });
    expect((await read('b'))?.n).toEqual({ N: '1' });
    expect((await read('b', 'other'))?.n).toEqual({ N: '5' });
  });

  it('refuses two actions on one item, changing nothing', async () => {
    await put('twice', 1);
    const message = await refusal(
      aws.dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: TABLE, Item: { ...key('before'), n: { N: '1' } } } },
            {
              Update: {
                TableName: TABLE,
                Key: key('twice'),
                UpdateExpression: 'SET n = :three',
                ExpressionAttributeValues: { ':three': { N: '3' } },
              },
            },
            { Delete: { TableName: TABLE, Key: key('twice') } },
          ],
        }),
      ),
    );
    expect(message).toBe(
      'ValidationException: Transaction request cannot include multiple operations on one item',
    );
    expect(await read('before')).toBeUndefined();
    expect((await read('twice'))?.n).toEqual({ N: '1' });
  });
});

// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html
describe('SQS message counts, the clock read once per call', () => {
  it('counts the available, delayed and in-flight messages apart', async () => {
    const { QueueUrl } = await aws.sqs.send(new CreateQueueCommand({ QueueName: 'scale-counts' }));
    for (const delay of [0, 0, 0, 600])
      await aws.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `m${delay}`, DelaySeconds: delay }));
    const received = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 600 }),
    );
    expect(received.Messages).toHaveLength(1);
    const { Attributes } = await aws.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesDelayed',
          'ApproximateNumberOfMessagesNotVisible',
        ],
      }),
    );
    expect(Attributes).toEqual({
      ApproximateNumberOfMessages: '2',
      ApproximateNumberOfMessagesDelayed: '1',
      ApproximateNumberOfMessagesNotVisible: '1',
    });
    // Every other attribute as moto gives it.
    const all = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    expect(Object.keys(all.Attributes ?? {}).sort()).toEqual([
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesDelayed',
      'ApproximateNumberOfMessagesNotVisible',
      'CreatedTimestamp',
      'DelaySeconds',
      'LastModifiedTimestamp',
      'MaximumMessageSize',
      'MessageRetentionPeriod',
      'QueueArn',
      'ReceiveMessageWaitTimeSeconds',
      'SqsManagedSseEnabled',
      'VisibilityTimeout',
    ]);
    // Only the two available ones can be received.
    const rest = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(rest.Messages?.map((m) => m.Body).sort()).toEqual(['m0', 'm0']);
  });
});
