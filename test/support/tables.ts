import { readFile } from 'node:fs/promises';
import { CreateTableCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { parse } from 'yaml';
import type { TestAws } from './aws';

const BAKES_TABLE_DEFINITION = new URL('../../resources/bakes-table.yml', import.meta.url);

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
export async function createBakesTable(aws: TestAws, tableName: string): Promise<string> {
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
