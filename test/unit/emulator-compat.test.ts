import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The emulator extension checks, before it patches moto, that every moto internal it touches
// exists (emulator/bakery/compat.py). A key written twice in its table silently drops the first
// entry's checks (it once listed AmisResponse twice, losing register_image), so both are tested.
const emulator = fileURLToPath(new URL('../../emulator', import.meta.url));

function python(script: string): string {
  // Not the tests' AWS settings: botocore (imported by moto) refuses the empty AWS_PROFILE they set.
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  return execFileSync('python3', ['-c', script], { cwd: emulator, encoding: 'utf8', env }).trim();
}

describe('the emulator compat list', () => {
  it('names each moto module or class once', () => {
    const keys = python(
      [
        'import ast, json',
        "tree = ast.parse(open('bakery/compat.py').read())",
        "table = next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == 'REQUIRED')",
        'print(json.dumps([k.value for k in table.keys]))',
      ].join('\n'),
    );
    const names = JSON.parse(keys) as string[];

    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
  });

  it('passes on the pinned moto, and names what is missing when moto changes', () => {
    const outcome = python(
      [
        'from bakery import compat',
        'compat.check()',
        "compat.REQUIRED['moto.ec2.models.amis.AmiBackend'] = ['create_image', 'no_such_method']",
        "compat.REQUIRED['moto.no_such_module'] = ['x']",
        'try:',
        '    compat.check()',
        "    print('accepted')",
        'except compat.MotoInternalsChanged as error:',
        '    print(error)',
      ].join('\n'),
    );

    expect(outcome).toBe(
      'the emulator extension is written for moto 5.2.1 and cannot find: moto.ec2.models.amis.AmiBackend.no_such_method, moto.no_such_module',
    );
  });
});
