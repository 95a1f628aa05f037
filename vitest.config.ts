import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Actors log crashes at `error`; tests crash actors on purpose. LOG_LEVEL=debug to see them.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
    // Real servers and child processes: a loaded 2-core machine needs room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
