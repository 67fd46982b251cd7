import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction, sdkClientsOf } from '../../build/bundle';

// A function's module init grows with the code it loads (docs/benchmarks.md, Cold start): the AWS
// SDK clients only reconcile calls stay out of the other functions' bundles.
const FUNCTIONS = ['api', 'janitor', 'lifecycle', 'nightly', 'reconcile'] as const;
const clients = new Map<string, Set<string>>();
let out = '';

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'ami-bakery-clients-'));
  for (const name of FUNCTIONS) {
    const { metafile } = await bundleFunction(
      new URL(`../../functions/${name}.ts`, import.meta.url).pathname,
      join(out, `${name}.js`),
    );
    clients.set(name, new Set(sdkClientsOf(metafile)));
  }
}, 60_000);

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('the AWS SDK clients each function bundles', () => {
  it.each(['api', 'janitor', 'lifecycle', 'nightly'])(
    '%s holds neither the KMS nor the STS client',
    (name) => {
      const found = clients.get(name);
      expect(found?.has('client-dynamodb')).toBe(true);
      expect(found?.has('client-kms')).toBe(false);
      expect(found?.has('client-sts')).toBe(false);
    },
  );

  it('reconcile holds both: it shares images under their keys and reaches other accounts', () => {
    const found = clients.get('reconcile');
    expect(found?.has('client-kms')).toBe(true);
    expect(found?.has('client-sts')).toBe(true);
  });
});
