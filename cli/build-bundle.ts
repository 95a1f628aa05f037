/**
 * Builds `dist/agov.mjs` (+ chunks): the CLI bundled by esbuild with code splitting, so each command
 * and actor kind loads only its own modules and dependencies. Supervisors start process children
 * from it (half the start-up time of the tsx path; restart latency depends on it).
 * `npm run build` and the test setup call it; `node --import tsx cli/build-bundle.ts` runs it.
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, buildSync } from 'esbuild';

/** How the CLI is bundled: what a module loads at start in the CLI is what these options make of it. */
export const CLI_BUNDLE_OPTIONS = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
} as const satisfies BuildOptions;

export function buildCliBundle(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  // Built beside dist/ and moved in file by file (a rename replaces a file atomically): two test runs
  // in one checkout each rebuild the bundle, and a process child of one must never find dist/ emptied
  // by the other (it did: "Cannot find module dist/cli-credentials-….mjs"). Chunk names are content
  // hashes, so an unchanged source gives the same files; chunks of an older source stay until
  // `npm run build`, which starts from an empty dist/.
  const staging = `${root}/dist.build-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  buildSync({
    ...CLI_BUNDLE_OPTIONS,
    absWorkingDir: root,
    entryPoints: { agov: 'cli/index.ts' },
    outdir: staging,
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  });
  mkdirSync(`${root}/dist`, { recursive: true });
  const files = readdirSync(staging);
  // Chunks first, the entry point last: a child that loads the new agov.mjs finds every chunk it names.
  for (const f of [...files.filter((f) => f !== 'agov.mjs'), 'agov.mjs'])
    renameSync(`${staging}/${f}`, `${root}/dist/${f}`);
  rmSync(staging, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  rmSync(fileURLToPath(new URL('../dist', import.meta.url)), { recursive: true, force: true });
  buildCliBundle();
}
