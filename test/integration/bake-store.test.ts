import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BakeRecord, Phase } from '../../lib/bake/model';
import { ConflictError, NotFoundError, PipelineBusyError } from '../../lib/errors';
import { bakeStarted } from '../../lib/bake/notifications';
import { BakeStore, IdempotencyKeyReusedError } from '../../lib/store/bakes';
import { createBakesTable } from '../../emulator/stack';
import { awsForTest } from '../support/aws';
import { bakeRecord } from '../support/records';

// The bake store against DynamoDB (the emulator), call by call: what each write requires, what it
// refuses and how it says so. Each test has a table of its own.

const aws = awsForTest(import.meta.url);

async function fresh(): Promise<BakeStore> {
  const table = await createBakesTable(aws, `store-${randomBytes(4).toString('hex')}`);
  return new BakeStore(aws.documents, table);
}

let serial = 0;
function bake(phase: Phase = 'requested', patch: Partial<BakeRecord> = {}): BakeRecord {
  serial += 1;
  const at = new Date(Date.UTC(2026, 10, 30, 0, 0, serial)).toISOString();
  const id = `b20261130${String(serial).padStart(6, '0')}-${randomBytes(3).toString('hex')}`;
  return bakeRecord({ id, phase, createdAt: at, ...patch });
}

const NOW = new Date('2026-11-30T12:00:00.000Z');
const ids = (bakes: readonly { bake: BakeRecord }[] | readonly BakeRecord[]) =>
  bakes.map((b) => ('bake' in b ? b.bake.id : b.id));

describe('create', () => {
  it('stores the record and takes the pipeline; a second bake of it is refused with the first one named', async () => {
    const store = await fresh();
    const first = bake();
    await store.create(first, [bakeStarted(first)]);

    const stored = await store.get(first.id);
    expect(stored.bake).toEqual(first);
    expect(stored.outbox).toEqual([bakeStarted(first)]);
    const refused = await store.create(bake(), []).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PipelineBusyError);
    expect((refused as PipelineBusyError).activeBakeId).toBe(first.id);
    await expect(store.create(bake('requested', { pipeline: 'api' }), [])).resolves.toBeUndefined();
  });

  it('the same bake id twice (another pipeline) is a conflict, not a busy pipeline', async () => {
    const store = await fresh();
    const first = bake();
    await store.create(first, []);

    await expect(store.create({ ...first, pipeline: 'api' }, [])).rejects.toThrow(
      new ConflictError(`Bake ${first.id} already exists`),
    );
  });

  it('an Idempotency-Key is kept with the bake; the same key again is told apart from a busy pipeline', async () => {
    const store = await fresh();
    const first = bake();
    const idempotency = {
      key: 'k1',
      requestHash: 'h1',
      bakeId: first.id,
      expiresAt: NOW.getTime() / 1000 + 60,
    };
    await store.create(first, [], undefined, idempotency);

    expect(await store.idempotency('k1', NOW)).toEqual(idempotency);
    await expect(
      store.create(bake(), [], undefined, { ...idempotency, bakeId: 'other' }),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    // Another key for the busy pipeline: busy, and the key is not kept.
    await expect(store.create(bake(), [], undefined, { ...idempotency, key: 'k2' })).rejects.toBeInstanceOf(
      PipelineBusyError,
    );
    expect(await store.idempotency('k2', NOW)).toBeUndefined();
  });
});

describe('get and idempotency', () => {
  it('an unknown bake is NotFoundError, naming it', async () => {
    const store = await fresh();

    await expect(store.get('b20261130000000-000000')).rejects.toThrow(
      new NotFoundError('Unknown bake: b20261130000000-000000'),
    );
  });

  it.each<[string, number, boolean]>([
    ['a second before it expires', -1, true],
    ['the second it expires', 0, true],
    ['a second after', 1, false],
  ])('a key is remembered until it expires: %s', async (_, offset, known) => {
    const store = await fresh();
    const first = bake();
    const expiresAt = NOW.getTime() / 1000;
    await store.create(first, [], undefined, { key: 'k', requestHash: 'h', bakeId: first.id, expiresAt });

    const found = await store.idempotency('k', new Date(NOW.getTime() + offset * 1000));

    expect(found !== undefined).toBe(known);
    expect(await store.idempotency('unknown', NOW)).toBeUndefined();
  });
});

describe('claim, release and commit', () => {
  it('one pass holds a bake at a time, until its lease ends or it gives it back', async () => {
    const store = await fresh();
    const record = bake();
    await store.create(record, []);

    expect(await store.claim(record, NOW, 30)).toBe(true);
    expect(await store.claim(record, new Date(NOW.getTime() + 29_000), 30)).toBe(false);
    expect(await store.claim(record, new Date(NOW.getTime() + 31_000), 30)).toBe(true);
    await store.release(record);
    expect(await store.claim(record, new Date(NOW.getTime() + 32_000), 30)).toBe(true);
    // A pass that read an older version holds nothing, and releases nothing.
    const stale = { ...record, version: 0 };
    expect(await store.claim(stale, new Date(NOW.getTime() + 99_000), 30)).toBe(false);
    await expect(store.release(stale)).resolves.toBeUndefined();
    expect(await store.claim(record, new Date(NOW.getTime() + 33_000), 30)).toBe(false);
  });

  it('a commit writes the next version, once; a writer that read an older one gets a conflict', async () => {
    const store = await fresh();
    const record = bake();
    await store.create(record, []);
    await store.claim(record, NOW, 30);

    const written = await store.commit(record, { ...record, phase: 'launching' }, []);

    expect(written.version).toBe(2);
    expect((await store.get(record.id)).bake).toMatchObject({ phase: 'launching', version: 2 });
    await expect(store.commit(record, { ...record, phase: 'failed' }, [])).rejects.toThrow(
      new ConflictError(`Bake ${record.id} changed since version 1`),
    );
    // The commit dropped the lease: the next pass may claim the new version at once.
    expect(await store.claim(written, NOW, 30)).toBe(true);
  });

  it('a commit that ends the bake frees its pipeline; a later commit of the finished bake leaves the next bake its lock', async () => {
    const store = await fresh();
    const first = bake();
    await store.create(first, []);
    const ended = await store.commit(first, { ...first, phase: 'cancelled' }, []);
    const second = bake();
    await store.create(second, []);

    // The finished bake, still watching its instances, is written again: the lock is the second's.
    await store.commit(ended, { ...ended, cleanup: { instances: [] } }, []);

    const refused = await store.create(bake(), []).catch((e: unknown) => e);
    expect((refused as PipelineBusyError).activeBakeId).toBe(second.id);
  });

  it('a commit keeps the outbox and the lease it is given, for the delivery that follows', async () => {
    const store = await fresh();
    const record = bake();
    await store.create(record, []);
    const next = { ...record, phase: 'succeeded' as const };

    const written = await store.commit(record, next, [bakeStarted(next)], new Date(NOW.getTime() + 60_000));

    expect((await store.get(record.id)).outbox).toEqual([bakeStarted(next)]);
    expect(await store.claim(written, NOW, 30)).toBe(false);
    expect(await store.claim(written, new Date(NOW.getTime() + 61_000), 30)).toBe(true);
  });

  it('a commit with nothing to deliver holds no lease, whatever it is given', async () => {
    const store = await fresh();
    const record = bake();
    await store.create(record, []);

    const written = await store.commit(
      record,
      { ...record, phase: 'launching' },
      [],
      new Date(NOW.getTime() + 60_000),
    );

    expect(await store.claim(written, NOW, 30)).toBe(true);
  });
});

describe('the active index', () => {
  it('holds what the reconciler still has work on, and nothing else', async () => {
    const store = await fresh();
    const running = bake('provisioning');
    const owing = bake('succeeded', { pipeline: 'a' });
    const watching = bake('cancelled', { pipeline: 'b', cleanup: { instances: [] } });
    const confirmed = bake('failed', { pipeline: 'c', cleanup: { instances: [], confirmedAt: 'x' } });
    const givenUp = bake('failed', { pipeline: 'd', cleanup: { instances: [], gaveUpAt: 'x' } });
    const done = bake('succeeded', { pipeline: 'e' });
    await store.create(running, []);
    await store.create(owing, [bakeStarted(owing)]);
    for (const record of [watching, confirmed, givenUp, done]) await store.create(record, []);

    expect(ids(await store.active()).sort()).toEqual([running.id, owing.id, watching.id].sort());
  });

  it.each<[string, BakeRecord, boolean]>([
    ['a finished bake leaves once its outbox is delivered', bake('succeeded'), false],
    ['an unfinished one stays', bake('provisioning'), true],
    [
      'a finished one still watching its instances stays',
      bake('cancelled', { cleanup: { instances: [] } }),
      true,
    ],
  ])('clearOutbox: %s', async (_, record, stays) => {
    const store = await fresh();
    await store.create(record, [bakeStarted(record)], new Date(NOW.getTime() + 60_000));

    const version = await store.clearOutbox(record);

    expect(version).toBe(2);
    expect(await store.get(record.id)).toMatchObject({ outbox: [], bake: { version: 2 } });
    expect(ids(await store.active()).includes(record.id)).toBe(stays);
    // The lease went with the outbox.
    expect(await store.claim({ ...record, version: 2 }, NOW, 30)).toBe(true);
    // A writer that read the record before is told nothing was cleared.
    expect(await store.clearOutbox(record)).toBeUndefined();
  });
});

describe('cancel and approval', () => {
  it('a cancel request is recorded once per call with a new version; a finished or unknown bake is refused', async () => {
    const store = await fresh();
    const record = bake('provisioning');
    await store.create(record, []);

    expect(await store.requestCancel(record.id, NOW.toISOString())).toBe(2);
    expect((await store.get(record.id)).bake).toMatchObject({
      cancelRequested: true,
      updatedAt: NOW.toISOString(),
    });
    for (const phase of ['succeeded', 'failed', 'cancelled'] as const) {
      const finished = bake(phase, { pipeline: phase });
      await store.create(finished, []);
      await expect(store.requestCancel(finished.id, NOW.toISOString())).rejects.toThrow(
        new ConflictError(`Bake ${finished.id} already ${phase}`),
      );
    }
    await expect(store.requestCancel('b20261130000000-000000', NOW.toISOString())).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  const yes = { decision: 'approved' as const, at: NOW.toISOString(), by: 'alice' };

  it('an answer at the gate is recorded once, only while the bake waits there', async () => {
    const store = await fresh();
    const waiting = bake('awaiting-approval');
    await store.create(waiting, []);

    expect(await store.answerApproval(waiting.id, yes)).toBe(2);
    expect((await store.get(waiting.id)).bake).toMatchObject({
      approval: yes,
      version: 2,
      updatedAt: yes.at,
    });
    await expect(store.answerApproval(waiting.id, { ...yes, decision: 'rejected' })).rejects.toThrow(
      new ConflictError(`Bake ${waiting.id} was already approved`),
    );
  });

  it.each<[string, BakeRecord, string]>([
    ['not at the gate', bake('publishing'), 'is not awaiting approval (it is publishing)'],
    ['being cancelled', bake('awaiting-approval', { cancelRequested: true }), 'is being cancelled'],
    [
      'cancelled, even with its cancel request',
      bake('cancelled', { cancelRequested: true }),
      'is not awaiting approval (it is cancelled)',
    ],
  ])('an answer to a bake %s is a conflict that says why', async (_, record, why) => {
    const store = await fresh();
    await store.create(record, []);

    await expect(store.answerApproval(record.id, yes)).rejects.toThrow(
      new ConflictError(`Bake ${record.id} ${why}`),
    );
  });

  it('an answer to an unknown bake is NotFoundError', async () => {
    const store = await fresh();

    await expect(store.answerApproval('b20261130000000-000000', yes)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('list and lastSucceeded', () => {
  it('lists newest first, by pipeline and status, a page at a time, reading on past filtered-out records', async () => {
    const store = await fresh();
    const made: BakeRecord[] = [];
    for (const [pipeline, phase] of [
      ['web', 'succeeded'],
      ['web', 'failed'],
      ['api', 'succeeded'],
      ['web', 'failed'],
      ['web', 'succeeded'],
      ['web', 'provisioning'],
      ['web', 'cancelled'],
    ] as const) {
      const record = bake(phase, { pipeline: `${pipeline}-${made.length}` });
      made.push({ ...record, pipeline });
    }
    // Every record in its own pipeline's lock, then renamed in place: many records, one pipeline name.
    for (const record of made) {
      const alone = { ...record, pipeline: `${record.pipeline}-${record.id}` };
      await store.create(alone, []);
      await store.commit(alone, record, []);
    }
    const newest = [...made].reverse().map((b) => b.id);
    const web = newest.filter((id) => made.find((b) => b.id === id)?.pipeline === 'web');

    expect(ids((await store.list({ limit: 10 })).bakes)).toEqual(newest);
    expect(ids((await store.list({ pipeline: 'web', limit: 10 })).bakes)).toEqual(web);
    const succeeded = await store.list({ pipeline: 'web', status: 'succeeded', limit: 1 });
    expect(ids(succeeded.bakes)).toEqual([made[4]?.id]);
    const rest = await store.list({ pipeline: 'web', status: 'succeeded', limit: 1, after: succeeded.next });
    expect(ids(rest.bakes)).toEqual([made[0]?.id]);
    expect(ids((await store.list({ status: 'active', limit: 10 })).bakes)).toEqual([made[5]?.id]);
    expect(ids((await store.list({ status: 'failed', limit: 10 })).bakes)).toEqual([
      made[3]?.id,
      made[1]?.id,
    ]);
    // A full page ends with a cursor; the last page has none.
    const page = await store.list({ limit: 2 });
    expect(page.bakes).toHaveLength(2);
    expect(page.next).toBeDefined();
    expect(BakeStore.isStartKeyOf({}, page.next ?? {})).toBe(true);
    expect((await store.list({ limit: 10 })).next).toBeUndefined();
  });

  it('lastSucceeded: the newest successful bake of the pipeline, not a rollout, also beyond the first page', async () => {
    const store = await fresh();
    const target = bake('succeeded');
    const records = [target, ...Array.from({ length: 21 }, () => bake('succeeded', { kind: 'rollout' }))];
    for (const record of records) {
      const alone = { ...record, pipeline: `x-${record.id}` };
      await store.create(alone, []);
      await store.commit(alone, record, []);
    }

    expect((await store.lastSucceeded('web'))?.id).toBe(target.id);
    expect(await store.lastSucceeded('api')).toBeUndefined();
  });
});

describe('janitorRan', () => {
  it('is true the first time for a pipeline only', async () => {
    const store = await fresh();

    expect(await store.janitorRan('web', NOW.toISOString())).toBe(true);
    expect(await store.janitorRan('web', NOW.toISOString())).toBe(false);
    expect(await store.janitorRan('api', NOW.toISOString())).toBe(true);
  });
});
