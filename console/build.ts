/**
 * Builds the web console into console/dist: one script and one stylesheet bundled by esbuild
 * (Preact included, nothing fetched at run time) and the page. `npm run console:build`; npm runs
 * it on install (`prepare`), and `npm run dev` and the browser tests build before they serve.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export async function buildConsole(outdir = here('./dist/')): Promise<void> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: { app: here('./src/main.tsx'), style: here('./src/style.css') },
    outdir,
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    format: 'esm',
    target: ['chrome120', 'firefox120', 'safari17'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(here('./src/index.html'), `${outdir}/index.html`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildConsole();
  process.stdout.write(`console built into ${here('./dist/')}\n`);
}
