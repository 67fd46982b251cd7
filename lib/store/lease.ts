import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isAwsError } from '../errors';

/** Where a versioned record with a lease lives. */
export interface LeasedItem {
  readonly documents: Pick<DynamoDBDocumentClient, 'send'>;
  readonly tableName: string;
  readonly key: Record<string, string>;
  readonly version: number;
}

/**
 * Claims the right to act on a record for `seconds`: only if nobody wrote it since `version` was
 * read and no other pass holds a live lease. The writer's next commit drops the lease; a pass that
 * dies leaves it to expire.
 * @returns false when another pass holds it.
 */
export async function claimLease(item: LeasedItem, now: Date, seconds: number): Promise<boolean> {
  try {
    await item.documents.send(
      new UpdateCommand({
        TableName: item.tableName,
        Key: item.key,
        UpdateExpression: 'SET leaseUntil = :until',
        ConditionExpression: 'version = :version AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
        ExpressionAttributeValues: {
          ':version': item.version,
          ':now': now.toISOString(),
          ':until': new Date(now.getTime() + seconds * 1000).toISOString(),
        },
      }),
    );
    return true;
  } catch (error) {
    if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
    throw error;
  }
}

/** Gives a lease back early (the pass failed but is alive to say so); a no-op if the record moved on. */
export async function releaseLease(item: LeasedItem): Promise<void> {
  try {
    await item.documents.send(
      new UpdateCommand({
        TableName: item.tableName,
        Key: item.key,
        UpdateExpression: 'REMOVE leaseUntil',
        ConditionExpression: 'version = :version',
        ExpressionAttributeValues: { ':version': item.version },
      }),
    );
  } catch (error) {
    if (!isAwsError(error, 'ConditionalCheckFailedException')) throw error;
  }
}

/** Every item of one shard of the sparse `active` index (in-flight bakes, open lifecycle actions). */
export async function activeItems(
  documents: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
  shard: string,
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: 'active',
        KeyConditionExpression: 'activeShard = :shard',
        ExpressionAttributeValues: { ':shard': shard },
        ExclusiveStartKey: cursor,
      }),
    );
    found.push(...(page.Items ?? []));
    cursor = page.LastEvaluatedKey;
  } while (cursor);
  return found;
}
