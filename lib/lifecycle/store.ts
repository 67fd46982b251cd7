import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError, isAwsError, NotFoundError } from '../errors';
import { activeItems, claimLease, releaseLease, type LeasedItem } from '../store/lease';
import type { LifecycleAction } from './message';

export type LifecycleOutcome =
  'ready' | 'not-ready' | 'timed-out' | 'drained' | 'drain-failed' | 'no-check' | 'gone' | 'not-ours';

/** One lifecycle action ami-bakery handles: from the hook's notification to CompleteLifecycleAction. */
export interface LifecycleRecord extends LifecycleAction {
  readonly status: 'checking' | 'completed';
  readonly version: number;
  readonly receivedAt: string;
  readonly updatedAt: string;
  readonly lastHeartbeatAt: string;
  /** The pipeline whose configuration applies to the group. */
  readonly pipeline?: string;
  readonly commandId?: string;
  readonly heartbeats: number;
  readonly result?: 'CONTINUE' | 'ABANDON';
  readonly outcome?: LifecycleOutcome;
  readonly reason?: string;
}

const ACTIVE = 'lifecycle';
/** Completed records are kept a week for audits, then expire. */
const KEEP_SECONDS = 7 * 86_400;
const key = (token: string) => ({ pk: `LIFECYCLE#${token}`, sk: 'LIFECYCLE' });

function toItem(record: LifecycleRecord): Record<string, unknown> {
  return {
    ...record,
    ...key(record.token),
    ...(record.status === 'checking'
      ? { activeShard: ACTIVE }
      : { expiresAt: Math.floor(Date.parse(record.updatedAt) / 1000) + KEEP_SECONDS }),
  };
}

function fromItem(item: Record<string, unknown>): LifecycleRecord {
  const { pk, sk, activeShard, expiresAt, leaseUntil, ...record } = item;
  return record as unknown as LifecycleRecord;
}

/** Lifecycle action records, in the bakes table (its `active` index finds the open ones). */
export class LifecycleStore {
  constructor(
    private readonly documents: Pick<DynamoDBDocumentClient, 'send'>,
    private readonly tableName: string,
  ) {}

  /** Records a new action once; a duplicate delivery gets the record the first one made. */
  async open(record: LifecycleRecord): Promise<{ record: LifecycleRecord; created: boolean }> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(record),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { record, created: true };
    } catch (error) {
      if (!isAwsError(error, 'ConditionalCheckFailedException')) throw error;
      return { record: await this.get(record.token), created: false };
    }
  }

  /** @throws NotFoundError for an unknown token. */
  async get(token: string): Promise<LifecycleRecord> {
    const found = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: key(token), ConsistentRead: true }),
    );
    if (!found.Item) throw new NotFoundError(`Unknown lifecycle action: ${token}`);
    return fromItem(found.Item);
  }

  /** The actions still being checked. */
  async inProgress(): Promise<LifecycleRecord[]> {
    return (await activeItems(this.documents, this.tableName, ACTIVE)).map(fromItem);
  }

  /** Takes the right to act on a record for `seconds`, if nobody changed it or holds it. */
  async claim(record: LifecycleRecord, now: Date, seconds: number): Promise<boolean> {
    return claimLease(this.leased(record), now, seconds);
  }

  /** Gives a claim back early (the step failed but is alive to say so). */
  async release(record: LifecycleRecord): Promise<void> {
    await releaseLease(this.leased(record));
  }

  private leased(record: LifecycleRecord): LeasedItem {
    return {
      documents: this.documents,
      tableName: this.tableName,
      key: key(record.token),
      version: record.version,
    };
  }

  /**
   * Writes `next` (dropping the lease) if the record is still at `previous.version`.
   * @throws ConflictError when another writer got there first.
   */
  async commit(previous: LifecycleRecord, next: LifecycleRecord): Promise<LifecycleRecord> {
    const written = { ...next, version: previous.version + 1 };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(written),
          ConditionExpression: 'version = :version',
          ExpressionAttributeValues: { ':version': previous.version },
        }),
      );
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException'))
        throw new ConflictError(`Lifecycle action ${next.token} changed`);
      throw error;
    }
    return written;
  }
}
