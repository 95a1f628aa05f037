/**
 * Which entry point runs the CLI: the esbuild bundle `dist/agov.mjs` (built by `npm run build` and by
 * the test setup) starts in about a third of the time of the TypeScript sources through tsx, so it is
 * used whenever it is current, i.e. no source file it is built from changed after it was built. An
 * edited checkout thus never runs stale code, and nobody has to remember to rebuild.
 *
 * Plain JavaScript: the launcher `cli/agov.mjs` asks before tsx is loaded.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE_ENTRY = join(ROOT, 'dist', 'agov.mjs');
export const SOURCE_ENTRY = join(ROOT, 'cli', 'agov.mjs');
/** The folders the bundle is built from (everything cli/index.ts can reach). */
const SOURCE_DIRS = ['actors', 'bus', 'protocols', 'supervisors', 'system', 'infra', 'chaos', 'cli'];

/**
 * True when `root`/dist/agov.mjs exists and is newer than every TypeScript source it is built from.
 * @param {string} [root] the checkout (this one by default)
 */
export function bundleIsCurrent(root = ROOT) {
  let builtMs;
  try {
    builtMs = statSync(join(root, 'dist', 'agov.mjs')).mtimeMs;
  } catch {
    return false;
  }
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      if (statSync(join(entry.parentPath, entry.name)).mtimeMs > builtMs) return false;
    }
  }
  return true;
}
