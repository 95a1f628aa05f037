import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/**
 * Builds the esbuild bundle of the CLI once per test run: process children started by supervisors
 * use it (it starts in about half the time of the tsx path, which restart-latency tests depend on).
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  buildSync({
    absWorkingDir: root,
    entryPoints: ['cli/index.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: 'dist/agov.mjs',
    logLevel: 'warning',
  });
}
