import { defineConfig } from 'vitest/config';

// The emulator's admin identity and a fixed region: unit tests never reach the network, and
// integration tests reach only the emulator started by the global setup. Code under test runs
// as its function's own identity (test/support/bakery.ts), never as this one.
const awsTestEnv = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'ami-bakery-admin',
  AWS_SECRET_ACCESS_KEY: 'ami-bakery-admin',
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
};

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          env: awsTestEnv,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          env: awsTestEnv,
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/integration-env.ts'],
          // One emulator serves every file: a busy moment can slow a file's setup well past 10 s.
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
