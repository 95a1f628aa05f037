import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  PIPELINE_JSON_SCHEMA_FILE,
  pipelineJsonSchema,
  renderPipelineJsonSchema,
} from '../../protocols/pipeline/index.ts';

const schemaPath = fileURLToPath(new URL(`../../${PIPELINE_JSON_SCHEMA_FILE}`, import.meta.url));

describe('pipeline JSON Schema', () => {
  it('is up to date with the zod schema (regenerate: node --import tsx protocols/pipeline/write-json-schema.ts)', () => {
    expect(readFileSync(schemaPath, 'utf8')).toBe(renderPipelineJsonSchema());
  });

  it('describes the top-level fields and requires name, version and stages', () => {
    const schema = pipelineJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        'name',
        'version',
        'parameters',
        'templates',
        'stages',
        'errorBudget',
        'token',
      ]),
    );
    expect(schema.required).toEqual(expect.arrayContaining(['name', 'version', 'stages']));
  });

  it('lists every task kind', () => {
    const text = renderPipelineJsonSchema();
    for (const kind of ['noop', 'sleep', 'fail', 'exec', 'http', 'pipeline'])
      expect(text).toContain(`"const": "${kind}"`);
  });
});
