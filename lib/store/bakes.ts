import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, isAwsError, NotFoundError, PipelineBusyError } from '../errors';
import { activeItems, claimLease, releaseLease, type LeasedItem } from './lease';
import { BAKE_ID, isActive, isTerminal, type Approval, type BakeRecord } from '../bake/model';
import type { Notification } from '../notify/notifications';

const ACTIVE = 'active';
const LIST_SHARD = 'BAKE';
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/** A caller's Idempotency-Key, remembered with what it asked for and the bake it started. */
export interface IdempotencyRecord {
  /** The key, already scoped to the caller. */
  readonly key: string;
  /** A hash of the request the key was first used with. */
  readonly requestHash: string;
  readonly bakeId: string;
  /** Epoch seconds after which DynamoDB's TTL may forget the key. */
  readonly expiresAt: number;
}

/** The key was first used for another request (or a concurrent one holds it). */
export class IdempotencyKeyReusedError extends Error {
  override readonly name = 'IdempotencyKeyReusedError';
}

export interface ListQuery {
  readonly pipeline?: string;
  /** A phase, or `active` for every bake not yet finished. */
  readonly status?: string;
  readonly limit: number;
  /** Where the previous page stopped (opaque to callers). */
  readonly after?: Record<string, unknown>;
}

export interface ListPage {
  readonly bakes: BakeRecord[];
  readonly next?: Record<string, unknown>;
}

const idempotencyKey = (key: string) => ({ pk: `IDEMPOTENCY#${key}`, sk: 'IDEMPOTENCY' });

/** A bake record as stored, with the notifications its last commit still owes. */
export interface StoredBake {
  readonly bake: BakeRecord;
  readonly outbox: readonly Notification[];
}

type Item = BakeRecord & {
  pk: string;
  sk: string;
  listShard?: string;
  activeShard?: string;
  outbox?: Notification[];
  leaseUntil?: string;
};

const bakeKey = (id: string) => ({ pk: `BAKE#${id}`, sk: 'BAKE' });
const lockKey = (pipeline: string) => ({ pk: `LOCK#${pipeline}`, sk: 'LOCK' });

function toItem(bake: BakeRecord, outbox: readonly Notification[], leaseUntil?: Date): Item {
  // Sparse "active" index: in-flight records, finished ones whose notifications are still owed,
  // and finished ones still watching their instances terminate.
  const active = isActive(bake) || outbox.length > 0;
  return {
    ...bake,
    ...bakeKey(bake.id),
    listShard: LIST_SHARD,
    ...(active ? { activeShard: ACTIVE } : {}),
    outbox: [...outbox],
    // The writer keeps the bake until it has delivered the outbox, so no other pass sends it too.
    ...(leaseUntil && outbox.length > 0 ? { leaseUntil: leaseUntil.toISOString() } : {}),
  };
}

function fromItem(item: Record<string, unknown>): StoredBake {
  const { pk, sk, listShard, activeShard, leaseUntil, outbox, ...bake } = item as unknown as Item;
  return { bake, outbox: outbox ?? [] };
}

function conditionFailed(error: unknown, index: number): boolean {
  return (
    error instanceof TransactionCanceledException &&
    error.CancellationReasons?.[index]?.Code === 'ConditionalCheckFailed'
  );
}

/** Bake records and per-pipeline locks in the bakes table. */
export class BakeStore {
  constructor(
    private readonly documents: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  /**
   * Creates a bake and takes its pipeline's lock in one transaction.
   * @throws PipelineBusyError (with the active bake's id) when the pipeline already has one.
   */
  async create(
    bake: BakeRecord,
    outbox: readonly Notification[],
    leaseUntil?: Date,
    idempotency?: IdempotencyRecord,
  ): Promise<void> {
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            ...(idempotency
              ? [
                  {
                    // First, so a reused key is told apart from a busy pipeline.
                    Put: {
                      TableName: this.tableName,
                      Item: { ...idempotencyKey(idempotency.key), ...idempotency },
                      ConditionExpression: 'attribute_not_exists(pk)',
                    },
                  },
                ]
              : []),
            {
              Put: {
                TableName: this.tableName,
                Item: { ...lockKey(bake.pipeline), bakeId: bake.id, since: bake.createdAt },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: toItem(bake, outbox, leaseUntil),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      const offset = idempotency ? 1 : 0;
      if (idempotency && conditionFailed(error, 0))
        throw new IdempotencyKeyReusedError(`Idempotency key already used`);
      if (conditionFailed(error, offset)) {
        const lock = await this.documents.send(
          new GetCommand({ TableName: this.tableName, Key: lockKey(bake.pipeline), ConsistentRead: true }),
        );
        throw new PipelineBusyError(bake.pipeline, String(lock.Item?.bakeId ?? 'unknown'));
      }
      if (conditionFailed(error, offset + 1)) throw new ConflictError(`Bake ${bake.id} already exists`);
      throw error;
    }
  }

  /** @throws NotFoundError for an unknown bake. */
  async get(id: string): Promise<StoredBake> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: bakeKey(id), ConsistentRead: true }),
    );
    if (!result.Item) throw new NotFoundError(`Unknown bake: ${id}`);
    return fromItem(result.Item);
  }

  /** What an Idempotency-Key was first used for, if it was (and has not expired). */
  async idempotency(key: string, now: Date): Promise<IdempotencyRecord | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: idempotencyKey(key), ConsistentRead: true }),
    );
    const item = result.Item as (IdempotencyRecord & { pk: string }) | undefined;
    // TTL deletes lazily: an expired key is treated as gone.
    if (!item || item.expiresAt * 1000 < now.getTime()) return undefined;
    return { key, requestHash: item.requestHash, bakeId: item.bakeId, expiresAt: item.expiresAt };
  }

  /**
   * Whether `key` can start a page of `query`: exactly the key DynamoDB returns for that index
   * and partition (a bake's table key, the partition of the list, its createdAt). Anything else
   * — forged, or the `next` of a list of another pipeline — DynamoDB would refuse.
   */
  static isStartKeyOf(query: Pick<ListQuery, 'pipeline'>, key: Readonly<Record<string, unknown>>): boolean {
    const [partition, value] =
      query.pipeline !== undefined ? ['pipeline', query.pipeline] : ['listShard', LIST_SHARD];
    const names = Object.keys(key).sort();
    const expected = ['createdAt', partition, 'pk', 'sk'].sort();
    return (
      names.length === expected.length &&
      names.every((name, i) => name === expected[i]) &&
      key[partition] === value &&
      typeof key.pk === 'string' &&
      key.pk.startsWith('BAKE#') &&
      BAKE_ID.test(key.pk.slice('BAKE#'.length)) &&
      key.sk === 'BAKE' &&
      typeof key.createdAt === 'string' &&
      ISO_INSTANT.test(key.createdAt)
    );
  }

  /** Bakes newest first, of one pipeline or all, optionally of one status; paginated. */
  async list(query: ListQuery): Promise<ListPage> {
    const byPipeline = query.pipeline !== undefined;
    const filter =
      query.status === undefined
        ? {}
        : query.status === ACTIVE
          ? {
              FilterExpression: 'NOT phase IN (:succeeded, :failed, :cancelled)',
              ExpressionAttributeValues: {
                ':succeeded': 'succeeded',
                ':failed': 'failed',
                ':cancelled': 'cancelled',
              },
            }
          : { FilterExpression: 'phase = :phase', ExpressionAttributeValues: { ':phase': query.status } };
    const bakes: BakeRecord[] = [];
    let cursor = query.after;
    // A filter can leave a page short: read on until the page is full or the index ends.
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: byPipeline ? 'by-pipeline' : 'all',
          KeyConditionExpression: byPipeline ? 'pipeline = :key' : 'listShard = :key',
          ExpressionAttributeValues: {
            ':key': byPipeline ? query.pipeline : LIST_SHARD,
            ...filter.ExpressionAttributeValues,
          },
          ...(filter.FilterExpression ? { FilterExpression: filter.FilterExpression } : {}),
          ScanIndexForward: false,
          Limit: query.limit - bakes.length,
          ExclusiveStartKey: cursor,
        }),
      );
      bakes.push(...(page.Items ?? []).map((item) => fromItem(item).bake));
      cursor = page.LastEvaluatedKey;
    } while (cursor && bakes.length < query.limit);
    return { bakes, ...(cursor ? { next: cursor } : {}) };
  }

  /** The pipeline's newest successful bake (rollouts of existing images do not count). */
  async lastSucceeded(pipeline: string): Promise<BakeRecord | undefined> {
    let after: Record<string, unknown> | undefined;
    do {
      const page = await this.list({ pipeline, status: 'succeeded', limit: 20, after });
      const found = page.bakes.find((bake) => bake.kind !== 'rollout');
      if (found) return found;
      after = page.next;
    } while (after);
    return undefined;
  }

  /**
   * Notes that the janitor ran for a pipeline.
   * @returns true the first time (that run is a dry run).
   */
  async janitorRan(pipeline: string, at: string): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: `JANITOR#${pipeline}`, sk: 'JANITOR', firstRunAt: at },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw error;
    }
  }

  /** Every record that is in flight or still owes notifications, from the sparse index. */
  async active(): Promise<StoredBake[]> {
    return (await activeItems(this.documents, this.tableName, ACTIVE)).map(fromItem);
  }

  /**
   * Claims the right to act on a bake for `seconds`: only if nobody committed since `bake` was
   * read and no other pass holds a live lease. The commit that follows clears the lease; a pass
   * that dies leaves it to expire, and the next pass observes what it did before acting again.
   * @returns false when another pass holds the bake.
   */
  async claim(bake: BakeRecord, now: Date, seconds: number): Promise<boolean> {
    return claimLease(this.leased(bake), now, seconds);
  }

  /** Gives a claim back early (the pass failed but is alive to say so). */
  async release(bake: BakeRecord): Promise<void> {
    await releaseLease(this.leased(bake));
  }

  private leased(bake: BakeRecord): LeasedItem {
    return {
      documents: this.documents,
      tableName: this.tableName,
      key: bakeKey(bake.id),
      version: bake.version,
    };
  }

  /**
   * Writes `next` if the stored version is still `previous.version`; a terminal record releases
   * its pipeline's lock in the same transaction.
   * @throws ConflictError when another writer committed first.
   */
  async commit(
    previous: BakeRecord,
    next: BakeRecord,
    outbox: readonly Notification[],
    leaseUntil?: Date,
  ): Promise<BakeRecord> {
    const written: BakeRecord = { ...next, version: previous.version + 1 };
    const put = {
      Put: {
        TableName: this.tableName,
        Item: toItem(written, outbox, leaseUntil),
        ConditionExpression: 'version = :version',
        ExpressionAttributeValues: { ':version': previous.version },
      },
    };
    const releaseLock = isTerminal(next.phase) && !isTerminal(previous.phase);
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: releaseLock
            ? [
                put,
                {
                  Delete: {
                    TableName: this.tableName,
                    Key: lockKey(next.pipeline),
                    ConditionExpression: 'attribute_not_exists(pk) OR bakeId = :id',
                    ExpressionAttributeValues: { ':id': next.id },
                  },
                },
              ]
            : [put],
        }),
      );
    } catch (error) {
      if (conditionFailed(error, 0))
        throw new ConflictError(`Bake ${next.id} changed since version ${previous.version}`);
      throw error;
    }
    return written;
  }

  /**
   * Asks for a bake to be cancelled; the next reconcile pass stops it and cleans up.
   * @returns the record's new version.
   * @throws NotFoundError for an unknown bake, ConflictError for a finished one.
   */
  async requestCancel(id: string, at: string): Promise<number> {
    try {
      const updated = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: bakeKey(id),
          UpdateExpression: 'SET cancelRequested = :yes, updatedAt = :at, version = version + :one',
          ConditionExpression: 'attribute_exists(pk) AND NOT phase IN (:succeeded, :failed, :cancelled)',
          ExpressionAttributeValues: {
            ':yes': true,
            ':at': at,
            ':one': 1,
            ':succeeded': 'succeeded',
            ':failed': 'failed',
            ':cancelled': 'cancelled',
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(updated.Attributes?.version);
    } catch (error) {
      if (!isAwsError(error, 'ConditionalCheckFailedException')) throw error;
      const { bake } = await this.get(id); // NotFoundError when it does not exist
      throw new ConflictError(`Bake ${id} already ${bake.phase}`);
    }
  }

  /**
   * Records a person's answer at the approval gate: once, and only while the bake waits there.
   * @returns the record's new version.
   * @throws NotFoundError for an unknown bake; ConflictError when it is not awaiting approval or was answered.
   */
  async answerApproval(id: string, approval: Approval): Promise<number> {
    try {
      const updated = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: bakeKey(id),
          UpdateExpression: 'SET approval = :approval, updatedAt = :at, version = version + :one',
          ConditionExpression:
            'attribute_exists(pk) AND phase = :waiting AND attribute_not_exists(approval) AND cancelRequested = :no',
          ExpressionAttributeValues: {
            ':approval': approval,
            ':at': approval.at,
            ':one': 1,
            ':waiting': 'awaiting-approval',
            ':no': false,
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(updated.Attributes?.version);
    } catch (error) {
      if (!isAwsError(error, 'ConditionalCheckFailedException')) throw error;
      const { bake } = await this.get(id); // NotFoundError when it does not exist
      if (bake.approval) throw new ConflictError(`Bake ${id} was already ${bake.approval.decision}`);
      if (bake.cancelRequested && !isTerminal(bake.phase))
        throw new ConflictError(`Bake ${id} is being cancelled`);
      throw new ConflictError(`Bake ${id} is not awaiting approval (it is ${bake.phase})`);
    }
  }

  /**
   * Drops delivered notifications and the writer's lease, if nobody committed since; a finished
   * record then leaves the active index.
   * @returns the record's new version, or undefined when another writer got there first.
   */
  async clearOutbox(bake: BakeRecord): Promise<number | undefined> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: bakeKey(bake.id),
          // A new version: a pass that read the record with its outbox can no longer claim it
          // and send the same notifications again.
          UpdateExpression: !isActive(bake)
            ? 'SET outbox = :none, version = :next REMOVE activeShard, leaseUntil'
            : 'SET outbox = :none, version = :next REMOVE leaseUntil',
          ConditionExpression: 'version = :version',
          ExpressionAttributeValues: { ':none': [], ':version': bake.version, ':next': bake.version + 1 },
        }),
      );
      return bake.version + 1;
    } catch (error) {
      // A newer commit carries its own outbox; the notifications may be sent again (at least once).
      if (!isAwsError(error, 'ConditionalCheckFailedException')) throw error;
      return undefined;
    }
  }
}
