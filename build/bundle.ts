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
