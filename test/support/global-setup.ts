import type { TestProject } from 'vitest/node';
import { startEmulator } from '../../emulator/harness';

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorEndpoint: string;
  }
}

/**
 * One emulator for the whole integration run; test files isolate themselves by
 * account (see `aws.ts`), so they run in parallel without resets.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulator = await startEmulator();
  project.provide('emulatorEndpoint', emulator.endpoint);
  return () => emulator.stop();
}
