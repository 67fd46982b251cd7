import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { BakeRecord } from '../../lib/bake/model';
import { ConflictError, PipelineBusyError } from '../../lib/errors';
import { BakeStore, IdempotencyKeyReusedError } from '../../lib/store/bakes';

// What the emulator cannot show: how the store treats DynamoDB failures other than its own
// conditions (throttling and the like go up unchanged, to be retried), the reads that must be
// strongly consistent, and pages. Everything else is tested against the emulator
// (test/integration/bake-store.test.ts).

const documents = mockClient(DynamoDBDocumentClient);
const store = new BakeStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
  'bakes',
);
beforeEach(() => documents.reset());

const ID = 'b20261130000000-aaaaaa';
const bake = {
  id: ID,
  pipeline: 'web',
  phase: 'provisioning',
  version: 3,
  createdAt: '2026-11-30T00:00:00.000Z',
  timeline: [],
} as unknown as BakeRecord;
const NOW = new Date('2026-11-30T12:00:00.000Z');
const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
const canceled = (...codes: (string | undefined)[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    ...(codes.length > 0 ? { CancellationReasons: codes.map((Code) => (Code ? { Code } : {})) } : {}),
  });

describe('DynamoDB failures that are not the store’s own conditions go up unchanged', () => {
  it.each<[string, () => Promise<unknown>]>([
    ['claim', () => store.claim(bake, NOW, 30)],
    ['release', () => store.release(bake)],
    ['commit', () => store.commit(bake, bake, [])],
    ['requestCancel', () => store.requestCancel(ID, NOW.toISOString())],
    ['answerApproval', () => store.answerApproval(ID, { decision: 'approved', at: NOW.toISOString() })],
    ['clearOutbox', () => store.clearOutbox(bake)],
    ['janitorRan', () => store.janitorRan('web', NOW.toISOString())],
  ])('%s', async (_, call) => {
    documents.on(UpdateCommand).rejects(throttled);
    documents.on(TransactWriteCommand).rejects(throttled);
    documents.on(PutCommand).rejects(throttled);

    await expect(call()).rejects.toBe(throttled);
  });

  it.each<[string, TransactionCanceledException]>([
    ['a cancelled transaction without reasons', canceled()],
    ['a transaction cancelled for another reason', canceled('None', 'None', 'TransactionConflict')],
  ])('create: %s goes up as it came', async (_, error) => {
    documents.on(TransactWriteCommand).rejects(error);

    await expect(store.create(bake, [])).rejects.toBe(error);
  });

  it('commit: a transaction cancelled by a conflict on the record is a ConflictError; one on the lock is not', async () => {
    documents.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed'));
    await expect(store.commit(bake, bake, [])).rejects.toBeInstanceOf(ConflictError);

    const onLock = canceled('None', 'ConditionalCheckFailed');
    documents.on(TransactWriteCommand).rejects(onLock);
    await expect(store.commit(bake, { ...bake, phase: 'failed' }, [])).rejects.toBe(onLock);
  });

  it('create: a busy pipeline whose lock vanished before it could be read names no bake', async () => {
    documents.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed', 'None'));
    documents.on(GetCommand).resolves({});

    const error = await store.create(bake, []).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PipelineBusyError);
    expect((error as PipelineBusyError).activeBakeId).toBe('unknown');
  });

  it('create: a reused key says so', async () => {
    documents.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed', 'None', 'None'));

    await expect(
      store.create(bake, [], undefined, { key: 'k', requestHash: 'h', bakeId: ID, expiresAt: 0 }),
    ).rejects.toThrow(new IdempotencyKeyReusedError('Idempotency key already used'));
  });
});

describe('reads that follow a write are strongly consistent', () => {
  it('get, an Idempotency-Key, and the lock of a busy pipeline', async () => {
    documents.on(GetCommand).resolves({ Item: { ...bake, pk: `BAKE#${ID}`, sk: 'BAKE' } });
    documents.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed', 'None'));

    await store.get(ID);
    await store.idempotency('k', NOW);
    await store.create(bake, []).catch(() => undefined);

    const reads = documents.commandCalls(GetCommand).map((call) => call.args[0].input.ConsistentRead);
    expect(reads).toEqual([true, true, true]);
  });

  it('a record stored without an outbox has an empty one', async () => {
    documents.on(GetCommand).resolves({ Item: { ...bake, pk: `BAKE#${ID}`, sk: 'BAKE' } });

    expect((await store.get(ID)).outbox).toEqual([]);
  });
});

describe('pages', () => {
  it('active() reads every page of the index', async () => {
    documents
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ ...bake, pk: 'BAKE#1' }], LastEvaluatedKey: { pk: 'BAKE#1' } })
      .resolvesOnce({ Items: [{ ...bake, id: 'two', pk: 'BAKE#2' }] });

    expect((await store.active()).map((s) => s.bake.id)).toEqual([ID, 'two']);
    expect(documents.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual({
      pk: 'BAKE#1',
    });
  });

  it('list asks only for what the page still lacks, and a page without items is empty', async () => {
    documents
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ ...bake, pk: 'BAKE#1' }], LastEvaluatedKey: { k: 1 } })
      .resolvesOnce({ LastEvaluatedKey: { k: 2 } })
      .resolvesOnce({ Items: [{ ...bake, pk: 'BAKE#3' }], LastEvaluatedKey: { k: 3 } });

    const page = await store.list({ status: 'succeeded', limit: 2 });

    expect(page.bakes).toHaveLength(2);
    expect(page.next).toEqual({ k: 3 });
    expect(documents.commandCalls(QueryCommand).map((c) => c.args[0].input.Limit)).toEqual([2, 1, 1]);
  });
});

describe('isStartKeyOf: only a key DynamoDB could have returned for that list', () => {
  const key = { pk: `BAKE#${ID}`, sk: 'BAKE', createdAt: '2026-11-30T00:00:00.000Z' };
  it.each<[string, { pipeline?: string }, Record<string, unknown>, boolean]>([
    ['the list of all bakes', {}, { ...key, listShard: 'BAKE' }, true],
    ['one pipeline', { pipeline: 'web' }, { ...key, pipeline: 'web' }, true],
    ['whole seconds', {}, { ...key, listShard: 'BAKE', createdAt: '2026-11-30T00:00:00Z' }, true],
    ["another pipeline's", { pipeline: 'web' }, { ...key, pipeline: 'api' }, false],
    ["a pipeline's, for all bakes", {}, { ...key, pipeline: 'web' }, false],
    ["all bakes', for a pipeline", { pipeline: 'web' }, { ...key, listShard: 'BAKE' }, false],
    ['another shard', {}, { ...key, listShard: 'other' }, false],
    ['an extra attribute', {}, { ...key, listShard: 'BAKE', phase: 'failed' }, false],
    ['a missing attribute', {}, { pk: key.pk, sk: 'BAKE', listShard: 'BAKE' }, false],
    [
      'another attribute in place of one',
      {},
      { pk: key.pk, sk: 'BAKE', listShard: 'BAKE', createdBy: 'x' },
      false,
    ],
    ['a lock, not a bake', {}, { ...key, pk: 'LOCK#web', listShard: 'BAKE' }, false],
    ['a bake id with something before', {}, { ...key, pk: `xBAKE#${ID}`, listShard: 'BAKE' }, false],
    ['a bake id with something after', {}, { ...key, pk: `BAKE#${ID}x`, listShard: 'BAKE' }, false],
    ['a pk that is not a string', {}, { ...key, pk: 7, listShard: 'BAKE' }, false],
    ['another sort key', {}, { ...key, sk: 'LOCK', listShard: 'BAKE' }, false],
    ['a createdAt that is not a string', {}, { ...key, createdAt: 7, listShard: 'BAKE' }, false],
    [
      'a createdAt with something before',
      {},
      { ...key, createdAt: `x${key.createdAt}`, listShard: 'BAKE' },
      false,
    ],
    [
      'a createdAt with something after',
      {},
      { ...key, createdAt: `${key.createdAt}x`, listShard: 'BAKE' },
      false,
    ],
  ])('%s', (_, query, start, valid) => {
    expect(BakeStore.isStartKeyOf(query, start)).toBe(valid);
  });
});
