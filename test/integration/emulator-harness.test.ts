import { chmod, mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmulatorStartError, MOTO_INSTALL_HINT, resetEmulator, startEmulator } from '../../emulator/harness';

const INSTRUCTION = 'pip install "moto[server]==5.2.1"';

async function scratchDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ami-bakery-harness-'));
}

describe('the emulator harness', () => {
  it('names the exact install instruction', () => {
    expect(MOTO_INSTALL_HINT).toBe(INSTRUCTION);
  });

  it('starts moto on a free loopback port, answers, resets and stops', async () => {
    const emulator = await startEmulator();
    try {
      expect(emulator.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect([5060, 5061]).not.toContain(emulator.port);
      const response = await fetch(`${emulator.endpoint}/moto-api/data.json`);
      expect(response.ok).toBe(true);
      await resetEmulator(emulator.endpoint);
    } finally {
      await emulator.stop();
    }
    await expect(fetch(`${emulator.endpoint}/moto-api/data.json`)).rejects.toThrow();
  });

  it('fails with the install instruction when moto is not installed', async () => {
    // `python3 -S` skips site-packages, so the interpreter runs but cannot import moto.
    const dir = await scratchDir();
    const python = join(dir, 'python-without-moto');
    await writeFile(python, '#!/bin/sh\nexec python3 -S "$@"\n');
    await chmod(python, 0o755);

    const start = startEmulator({ python });

    await expect(start).rejects.toThrow(EmulatorStartError);
    await expect(start).rejects.toThrow(/moto is not installed/);
    await expect(start).rejects.toThrow(INSTRUCTION);
  });

  it('fails with the install instruction when another moto version is installed', async () => {
    const dir = await scratchDir();
    await mkdir(join(dir, 'moto'));
    await writeFile(join(dir, 'moto', '__init__.py'), '__version__ = "4.2.14"\n');

    const start = startEmulator({ env: { ...process.env, PYTHONPATH: dir } });

    await expect(start).rejects.toThrow(/moto 4\.2\.14 is installed.*needs exactly 5\.2\.1/);
    await expect(start).rejects.toThrow(INSTRUCTION);
  });

  it('names the moto internals it cannot find when moto 5.2.1 is not the real one', async () => {
    // A package that claims to be moto 5.2.1 but has none of moto's modules.
    const dir = await scratchDir();
    await mkdir(join(dir, 'moto'));
    await writeFile(join(dir, 'moto', '__init__.py'), '__version__ = "5.2.1"\n');

    const start = startEmulator({ env: { ...process.env, PYTHONPATH: dir } });

    await expect(start).rejects.toThrow(/written for moto 5\.2\.1 and cannot find: moto\.core\.responses/);
    await expect(start).rejects.toThrow(INSTRUCTION);
  });

  it('fails with the install instruction when Python itself is missing', async () => {
    const start = startEmulator({ python: '/nonexistent/python3' });

    await expect(start).rejects.toThrow(/\/nonexistent\/python3 was not found/);
    await expect(start).rejects.toThrow(INSTRUCTION);
  });
});
