/**
 * One local "Lambda container": a process that loads one function's handler with that
 * function's environment (its own credentials among it) and runs the events its parent sends.
 * Started by `startLocalFunction` (lambda.ts); argv[2] names the function.
 */
import { lambdaContext } from './environment';

interface Invocation {
  readonly id: number;
  readonly event: unknown;
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const name = process.argv[2] ?? '';
const module = (await import(`../../functions/${name}.ts`)) as { handler: Handler };
const functionName = `ami-bakery-local-${name}`;

process.on('message', (message: Invocation) => {
  void module.handler(message.event, lambdaContext(functionName)).then(
    (result) => process.send?.({ id: message.id, result }),
    (error: unknown) => {
      const { name: errorName = 'Error', message: text = String(error) } = error as Partial<Error>;
      process.send?.({ id: message.id, error: { name: errorName, message: text } });
    },
  );
});
// The parent closes the channel to stop the container.
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
