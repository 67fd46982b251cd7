import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lib/api/openapi';
import { ROUTES } from '../../lib/api/routes';

const committed = JSON.parse(
  readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const generated = JSON.parse(JSON.stringify(openApiDocument())) as {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
};

describe('docs/openapi.json', () => {
  it('is what the zod schemas generate (run `npm run openapi` after changing them)', () => {
    expect(committed).toEqual(generated);
  });

  it('documents exactly the routes the API serves', () => {
    const documented = Object.entries(generated.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );

    expect(documented.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('resolves every $ref to a component schema', () => {
    const refs = [...JSON.stringify(generated).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map(
      (m) => m[1],
    );

    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(generated.components.schemas).toHaveProperty(ref ?? '');
  });
});
