/**
 * `npm run dev`: the whole service on localhost against the emulator (or AWS_ENDPOINT_URL): the
 * HTTP API on http://127.0.0.1:$PORT (default 3000) through the real api handler, the web console
 * at /console/ of it, and the reconcile function on its events, timers and sweep. Stop with Ctrl-C.
 */
import { loadConsoleFiles } from '../cli/console-server';
import { EmulatorStartError } from '../emulator/harness';
import { writeFunctionEnvFiles } from './local/environment';
import { DEV_DELAYS, startLocalStack } from './local/stack';

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const stack = await startLocalStack('dev', {
    delays: DEV_DELAYS,
    timeScale: 0.02,
    port: Number(process.env.PORT ?? 3000),
    console: loadConsoleFiles(),
  });
  writeFunctionEnvFiles(stack.local, '.local');
  say(`ami-bakery dev: API on ${stack.api.url} (unsigned), AWS at ${stack.local.endpoint}`);
  say(`  console:  ${stack.api.url}/console/`);
  say(`  try:  AMI_BAKERY_URL=${stack.api.url} npx ami-bakery bake web --follow`);
  say(`        curl -s ${stack.api.url}/pipelines`);
  say(
    `        (set -a; . .local/api.env; npx serverless invoke local -f api -p events/api-post-bakes.json --param resources=env --region "$AWS_REGION")`,
  );
  const stop = () => {
    say('stopping…');
    void stack.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof EmulatorStartError ? error.message : String(error)}\n`);
  process.exit(1);
});
