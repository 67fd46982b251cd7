import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsForTest } from '../support/aws';
import { createBakesTable } from '../../emulator/stack';

const aws = awsForTest(import.meta.url);
let table: string;

beforeAll(async () => {
  table = await createBakesTable(aws, 'bakes');
});

describe('the bakes table, created from the stack definition', () => {
  it('has the key schema and its three indexes', async () => {
    const { Table } = await aws.dynamodb.send(new DescribeTableCommand({ TableName: table }));

    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toEqual([
      'active',
      'all',
      'by-pipeline',
    ]);
  });

  it('lists only in-flight records in the sparse active index', async () => {
    await aws.documents.send(
      new PutCommand({
        TableName: table,
        Item: {
          pk: 'BAKE#1',
          sk: 'BAKE',
          pipeline: 'web',
          createdAt: '2026-11-22T00:00:00Z',
          activeShard: 'active',
          updatedAt: '2026-11-22T00:01:00Z',
        },
      }),
    );
    await aws.documents.send(
      new PutCommand({
        TableName: table,
        Item: {
          pk: 'BAKE#2',
          sk: 'BAKE',
          pipeline: 'web',
          createdAt: '2026-11-21T00:00:00Z',
          updatedAt: '2026-11-21T00:30:00Z',
        },
      }),
    );

    const active = await aws.documents.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'active',
        KeyConditionExpression: 'activeShard = :active',
        ExpressionAttributeValues: { ':active': 'active' },
      }),
    );
    const byPipeline = await aws.documents.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'by-pipeline',
        KeyConditionExpression: 'pipeline = :pipeline',
        ExpressionAttributeValues: { ':pipeline': 'web' },
        ScanIndexForward: false,
      }),
    );

    expect(active.Items?.map((item) => item.pk as string)).toEqual(['BAKE#1']);
    expect(byPipeline.Items?.map((item) => item.pk as string)).toEqual(['BAKE#1', 'BAKE#2']);
  });
});
