// Mutation testing (`npm run mutation`, see docs/testing.md). This is the shared base; the driver
// test/mutation/run-mutation.mjs runs Stryker once per governance-critical module with that module's
// `--mutate` file and its focused `--testFiles`, so each run fits a loaded 2-core machine.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'test/mutation/vitest.mutation.config.ts', related: false, pool: 'forks' },
  // The TypeScript checker re-checks the whole project per mutant group: on a 2-core machine shared by
  // nine engineers that was ~1 mutant a minute. Off by default (vitest strips types, so an ill-typed
  // mutant still runs and is killed or survives on behaviour); `--checkers typescript` turns it back on.
  checkers: [],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  concurrency: 1,
  incremental: true,
  // Per-module incremental files live under reports/ (git-ignored); the driver sets incrementalFile.
  reporters: ['clear-text', 'progress', 'json'],
  thresholds: { high: 90, low: 80 },
  timeoutMS: 15_000,
  ignorePatterns: ['.data', 'dist', 'dist.build-*', 'reports', 'coverage', '.prof'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
