/**
 * Builds `dist/agov.mjs` (+ chunks): the CLI bundled by esbuild with code splitting, so each command
 * and actor kind loads only its own modules and dependencies. Supervisors start process children
 * from it (half the start-up time of the tsx path; restart latency depends on it).
 * `npm run build` and the test setup call it; `node --import tsx cli/build-bundle.ts` runs it.
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

export function buildCliBundle(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  rmSync(`${root}/dist`, { recursive: true, force: true });
  buildSync({
    absWorkingDir: root,
    entryPoints: { agov: 'cli/index.ts' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) buildCliBundle();
