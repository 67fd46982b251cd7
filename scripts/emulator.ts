/**
 * `npm run emulator`: starts the local AWS emulator and keeps it running until Ctrl-C.
 * Prints the environment variables that point the AWS SDK (and this project) at it.
 */
import { EmulatorStartError, startEmulator } from '../emulator/harness';

const port = Number(process.env.EMULATOR_PORT ?? 0);

try {
  const emulator = await startEmulator({ port, detachFromStdin: true });
  process.stdout.write(
    [
      `AWS emulator (moto) listening on ${emulator.endpoint} (pid ${emulator.pid})`,
      'Point the AWS SDK and CLI at it with:',
      `  export AWS_ENDPOINT_URL=${emulator.endpoint}`,
      '  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=ami-bakery-admin AWS_SECRET_ACCESS_KEY=ami-bakery-admin',
      '(the admin identity; any other key is refused unless registered as a function, see the README)',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  const stop = (): void => {
    void emulator.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  if (error instanceof EmulatorStartError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
