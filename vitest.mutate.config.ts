import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/**
 * The test files one mutation group runs (scripts/mutate.ts sets MUTATE_TESTS): unit files alone
 * need no emulator; with an integration file, the run's one emulator starts as in `npm test`.
 */
const files = (process.env.MUTATE_TESTS ?? '').split(',').filter(Boolean);
const integration = files.some((file) => file.startsWith('test/integration/'));
const [unitProject] = base.test?.projects as [{ test: { env: Record<string, string> } }];

export default defineConfig({
  test: {
    include: files,
    env: unitProject.test.env,
    ...(integration
      ? {
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/integration-env.ts', 'test/support/mutation-reset.ts'],
          // One file at a time: each starts from an emptied emulator.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        }
      : {}),
  },
});
