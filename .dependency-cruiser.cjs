/**
 * The architecture, checked by `npm run lint` (docs/architecture.md draws the same layers):
 * entry points (functions/, cli/, scripts/, bench/) wire things up; lib/ is the service and never
 * reaches back up to them, to config/ (pipelines are passed in) or to the tests and the emulator;
 * and nothing in lib/ depends on itself in a circle. Type-only imports are not dependencies at run
 * time and are left out (tsPreCompilationDeps: false).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'lib-stays-below',
      comment: 'lib/ is imported by entry points, never the other way round (issue 17)',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(functions|cli|scripts|bench|config|test|emulator|build)/' },
    },
    {
      name: 'no-circular',
      comment: 'a cycle makes two modules one; break it with a lower module both use',
      severity: 'error',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      comment: 'the folders of lib/ form layers: two folders that import each other are one (issue 17)',
      severity: 'error',
      scope: 'folder',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'functions-are-entry-points',
      comment: 'nothing but tests, scripts and bench import a function module',
      severity: 'error',
      from: { path: '^(lib|cli|config|emulator)/' },
      to: { path: '^functions/' },
    },
    {
      name: 'console-runs-in-a-browser',
      comment:
        'the web console (console/src) bundles for a browser: besides its own modules only Preact and the pure bake model, never Node or AWS code (its API types are type-only imports)',
      severity: 'error',
      from: { path: '^console/src/' },
      to: { pathNot: '^(console/src/|lib/bake/model\\.ts$|node_modules/preact/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.stryker-tmp|\\.serverless|\\.esbuild)/' },
    tsPreCompilationDeps: false,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
