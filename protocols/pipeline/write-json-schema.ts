/**
 * Regenerates docs/schemas/pipeline.schema.json from the zod schema:
 *   node --import tsx protocols/pipeline/write-json-schema.ts
 * With `--check`, exits 1 when the file is stale instead of writing it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PIPELINE_JSON_SCHEMA_FILE, renderPipelineJsonSchema } from './json-schema.ts';

const target = fileURLToPath(new URL(`../../${PIPELINE_JSON_SCHEMA_FILE}`, import.meta.url));
const text = renderPipelineJsonSchema();
if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    console.error(
      `${PIPELINE_JSON_SCHEMA_FILE} is stale; run: node --import tsx protocols/pipeline/write-json-schema.ts`,
    );
    process.exit(1);
  }
} else {
  await writeFile(target, text);
  console.log(`wrote ${PIPELINE_JSON_SCHEMA_FILE}`);
}
