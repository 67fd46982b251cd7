import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';
import plugins from '../../build/esbuild-plugins.cjs';

const root = new URL('../..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const out = mkdtempSync(join(tmpdir(), 'ami-bakery-plugins-'));

/** The clients the functions bundle. */
const CLIENTS = [
  'client-ec2',
  'client-ssm',
  'client-auto-scaling',
  'client-dynamodb',
  'client-sns',
  'client-sqs',
];

function schemaModule(client: string): string {
  return join(root, 'node_modules/@aws-sdk', client, 'dist-es/schemas/schemas_0.js');
}

async function bundle(contents: string, name: string, withPlugins: Plugin[]): Promise<string> {
  const file = join(out, `${name}.cjs`);
  await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    mainFields: ['module', 'main'],
    logLevel: 'silent',
    plugins: withPlugins,
  });
  return file;
}

/**
 * Deep equality of two schema graphs: arrays, plain objects, primitives, and the zero-argument
 * thunks (`() => Shape$`) schemas use for references, compared by what they return.
 */
function sameSchema(a: unknown, b: unknown, seen = new Set<unknown>()): boolean {
  if (typeof a === 'function' && typeof b === 'function') {
    if (a.length !== 0 || b.length !== 0) return a.length === b.length;
    return sameSchema((a as () => unknown)(), (b as () => unknown)(), seen);
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return Object.is(a, b);
  if (seen.has(a)) return true;
  seen.add(a);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.join() !== Object.keys(b).join()) return false;
  return keys.every((k) =>
    sameSchema((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], seen),
  );
}

describe('sdkSchemaKeys (esbuild plugin)', () => {
  it('inlines computed keys that name a string constant of the module, and nothing else', () => {
    const source = [
      'const _xN = "xmlName";',
      'const _e = "error";',
      'export var A$ = [3, n0, _A, 0, [() => B$, { [_xN]: "Item", [_e]: _c, [other]: 1 }]];',
    ].join('\n');
    expect(plugins.inlineSchemaKeys(source)).toContain('{ "xmlName": "Item", "error": _c, [other]: 1 }');
  });

  it.each(CLIENTS)('leaves every exported schema of %s as it was', async (client) => {
    const entry = `export * from ${JSON.stringify(schemaModule(client))};`;
    const before = require(await bundle(entry, `${client}-before`, [])) as Record<string, unknown>;
    const after = require(await bundle(entry, `${client}-after`, plugins)) as Record<string, unknown>;
    const schemas = Object.keys(before).filter((name) => name.endsWith('$'));
    expect(schemas.length).toBeGreaterThan(10);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const name of schemas) expect(sameSchema(after[name], before[name]), name).toBe(true);
    // Every computed key that named a constant is gone (what made esbuild keep every schema).
    const rewritten = plugins.inlineSchemaKeys(readFileSync(schemaModule(client), 'utf8'));
    expect(rewritten).not.toMatch(/\[_[A-Za-z0-9]+\]:/);
  });

  it('lets esbuild drop the schemas of operations a bundle never calls', async () => {
    const entry = [
      "import { EC2Client, DescribeInstancesCommand } from '@aws-sdk/client-ec2';",
      'export const call = () => new EC2Client({}).send(new DescribeInstancesCommand({}));',
    ].join('\n');
    const without = readFileSync(await bundle(entry, 'ec2-without', []), 'utf8');
    const withPlugin = readFileSync(await bundle(entry, 'ec2-with', plugins), 'utf8');
    expect(without).toContain('AcceptAddressTransferRequest');
    expect(withPlugin).not.toContain('AcceptAddressTransferRequest');
    expect(withPlugin).toContain('DescribeInstancesRequest');
  });
});
