import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

// Local runtime = Lambda runtime: tests, the demo and benchmarks run on the Node major the stack
// deploys to (npm scripts find the `node` dev dependency's binary first on their PATH).
const runtime = /^\s+runtime:\s+nodejs(\d+)\.x\s*$/m.exec(readFileSync('serverless.yml', 'utf8'))?.[1];

describe('the Node.js runtime', () => {
  it('is the major Lambda runs', () => {
    expect(runtime).toBeDefined();
    expect(process.versions.node.split('.')[0]).toBe(runtime);
  });

  it("satisfies every installed package's engines (npm checked them against the Node that installed them)", () => {
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
      packages: Record<string, { engines?: { node?: string } | string[]; dev?: boolean }>;
    };
    const unsupported = Object.entries(lock.packages)
      .flatMap(([path, entry]) => {
        const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        return range && !semver.satisfies(process.versions.node, range) ? [`${path} (${range})`] : [];
      })
      .sort();

    expect(unsupported).toEqual([]);
  });
});
