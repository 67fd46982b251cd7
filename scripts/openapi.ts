/** `npm run openapi`: writes docs/openapi.json from the API's zod schemas. */
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../lib/api/openapi';

const target = new URL('../docs/openapi.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
process.stdout.write(`wrote ${target.pathname}\n`);
