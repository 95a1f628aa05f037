import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The chaos shards first, then vitest's own order. With no timing cache (every CI run is a clean clone)
 * vitest runs larger files first, and the chaos shard files are three lines each: the suite's longest
 * files (3–4 min each) started last and ran on both workers at the tail, 12 minutes in all.
 */
class LongPolesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const chaos = (f: TestSpecification) => f.moduleId.includes('/test/chaos/');
    return [...sorted.filter(chaos), ...sorted.filter((f) => !chaos(f))];
  }
}

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
    sequence: { sequencer: LongPolesFirst },
  },
});
