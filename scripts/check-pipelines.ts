/** `npm run package` runs this first: an invalid pipeline configuration never gets packaged. */
import { pipelines } from '../config/pipelines';
import { ConfigError } from '../lib/errors';
import { loadPipelines } from '../lib/pipeline/catalog';

try {
  // The stack provides the builder profile for pipelines that name none (serverless.yml).
  const loaded = loadPipelines(pipelines, { builderProfile: 'BuilderInstanceProfile' });
  process.stdout.write(`pipelines OK: ${loaded.map((p) => p.name).join(', ')}\n`);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
