import type { Plugin } from 'esbuild';

declare const plugins: Plugin[] & {
  /** The module's source with every computed key that names one of its string constants inlined. */
  inlineSchemaKeys(source: string): string;
  sdkSchemaKeys: Plugin;
};
export = plugins;
