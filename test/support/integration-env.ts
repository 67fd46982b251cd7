import { inject } from 'vitest';

// Every SDK client in the worker, including the ones `lib/` builds from the
// environment, now talks to the run's emulator.
process.env.AWS_ENDPOINT_URL = inject('emulatorEndpoint');
