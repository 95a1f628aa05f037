export * from './chaos-options.ts';
export * from './invariants.ts';
export * from './prng.ts';
export * from './runner.ts';
export * from './scenarios.ts';
export * from './system-under-test.ts';
