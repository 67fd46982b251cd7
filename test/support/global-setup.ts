import type { TestProject } from 'vitest/node';
import { buildConsole } from '../../console/build';
import { startEmulator } from '../../emulator/harness';
import { packagedTemplate } from '../../emulator/iam/stack';

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
  // The stack's roles, as packaged, are what the emulator enforces: package once (or reuse the
  // cached template) before any test file registers its functions' identities.
  // The web console as its sources are now (the browser tests serve console/dist).
  const [emulator] = await Promise.all([startEmulator(), packagedTemplate(), buildConsole()]);
  project.provide('emulatorEndpoint', emulator.endpoint);
  return () => emulator.stop();
}
