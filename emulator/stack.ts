import { readFile } from 'node:fs/promises';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { parse } from 'yaml';

const BAKES_TABLE_DEFINITION = new URL('../resources/bakes-table.yml', import.meta.url);

interface TableResource {
  Type: 'AWS::DynamoDB::Table';
  Properties: Pick<
    CreateTableCommandInput,
    'BillingMode' | 'AttributeDefinitions' | 'KeySchema' | 'GlobalSecondaryIndexes' | 'SSESpecification'
  > & { Tags?: { Key: string; Value: string }[] };
}

/**
 * Creates the bakes table in the emulator from the very resource `serverless.yml`
 * deploys (`resources/bakes-table.yml`), so tests never drift from the stack.
 * @returns the table name.
 */
export async function createBakesTable(
  aws: { readonly dynamodb: DynamoDBClient },
  tableName: string,
): Promise<string> {
  const resource = parse(await readFile(BAKES_TABLE_DEFINITION, 'utf8')) as TableResource;
  const { BillingMode, AttributeDefinitions, KeySchema, GlobalSecondaryIndexes, SSESpecification, Tags } =
    resource.Properties;
  await aws.dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode,
      AttributeDefinitions,
      KeySchema,
      GlobalSecondaryIndexes,
      SSESpecification,
      Tags,
    }),
  );
  return tableName;
}

/** The reconciler's timer queue, as serverless.yml declares it (visibility 6x the consumer timeout). */
export async function createTimerQueue(aws: { readonly sqs: SQSClient }, queueName: string): Promise<string> {
  const created = await aws.sqs.send(
    new CreateQueueCommand({
      QueueName: queueName,
      Attributes: { VisibilityTimeout: '360', MessageRetentionPeriod: '3600' },
    }),
  );
  if (!created.QueueUrl) throw new Error('the emulator returned no queue URL');
  return created.QueueUrl;
}
