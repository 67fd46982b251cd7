import { inject } from 'vitest';
import { resetEmulator } from '../../emulator/harness';

// Mutation testing runs the same test files again and again against one emulator: each run
// starts from an empty emulator, or a test would fail on what its previous run left (a role
// that "already exists") and every mutant would count as killed.
await resetEmulator(inject('emulatorEndpoint'));
