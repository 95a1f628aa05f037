/**
 * Regenerates every published JSON Schema (`npm run schemas`); with `--check`, exits 1 naming the
 * stale files instead of writing them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SCHEMA_FILES } from './schema-files.ts';

let stale = 0;
for (const { file, render } of SCHEMA_FILES) {
  const target = fileURLToPath(new URL(`../${file}`, import.meta.url));
  const text = render();
  if (process.argv.includes('--check')) {
    if ((await readFile(target, 'utf8').catch(() => '')) !== text) {
      console.error(`${file} is stale; run: npm run schemas`);
      stale++;
    }
  } else {
    await writeFile(target, text);
    console.log(`wrote ${file}`);
  }
}
process.exit(stale ? 1 : 0);
