/** The JSON Schema of pipeline files, generated from the zod schema the runtime validates with. */
import * as z from 'zod';
import { PipelineFileSchema } from './schema.ts';

/** Where the generated schema is kept, relative to the repository root. */
export const PIPELINE_JSON_SCHEMA_FILE = 'docs/schemas/pipeline.schema.json';

/** JSON Schema (draft 2020-12) of what a pipeline file may contain. */
export function pipelineJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(PipelineFileSchema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
}

/** The schema file's exact text. */
export function renderPipelineJsonSchema(): string {
  return `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`;
}
