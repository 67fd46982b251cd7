/**
 * A function bundled the way serverless.yml's `custom.esbuild` bundles it (serverless-esbuild):
 * for the cold-start benchmark and the tests that run the built artefact. A test checks that
 * these options and serverless.yml agree.
 */
import { build, type BuildOptions, type Metafile } from 'esbuild';
import plugins from './esbuild-plugins.cjs';

export const FUNCTION_BUNDLE_OPTIONS = {
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  target: 'node22',
  platform: 'node',
  format: 'cjs',
  mainFields: ['module', 'main'],
} as const satisfies BuildOptions;

export interface BuiltBundle {
  readonly file: string;
  readonly metafile: Metafile;
}

export async function bundleFunction(entry: string, outfile: string): Promise<BuiltBundle> {
  const result = await build({
    ...FUNCTION_BUNDLE_OPTIONS,
    mainFields: [...FUNCTION_BUNDLE_OPTIONS.mainFields],
    entryPoints: [entry],
    outfile,
    metafile: true,
    logLevel: 'silent',
    plugins,
  });
  return { file: outfile, metafile: result.metafile };
}

/** The AWS SDK clients a bundle holds (its metafile's `@aws-sdk/client-*` packages), sorted. */
export function sdkClientsOf(metafile: Metafile): string[] {
  const found = new Set<string>();
  for (const output of Object.values(metafile.outputs))
    for (const path of Object.keys(output.inputs)) {
      const match = /node_modules\/@aws-sdk\/(client-[^/]+)\//.exec(path);
      if (match?.[1]) found.add(match[1]);
    }
  return [...found].sort();
}
