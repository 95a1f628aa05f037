/**
 * The JSON Schema files published for external users, each generated from the zod definitions the
 * runtime validates with. It lives above `actors/` because one of them is the gateway's API.
 */
import { OPENAPI_FILE, renderGatewayApi } from '../actors/gateway/index.ts';
import { envelopeJsonSchema } from '../protocols/index.ts';
import { PIPELINE_JSON_SCHEMA_FILE, renderPipelineJsonSchema } from '../protocols/pipeline/index.ts';

export interface SchemaFile {
  /** Path relative to the repository root. */
  file: string;
  render(): string;
}

export const SCHEMA_FILES: SchemaFile[] = [
  {
    file: 'docs/schemas/envelope.schema.json',
    render: () => `${JSON.stringify(envelopeJsonSchema(), null, 2)}\n`,
  },
  { file: PIPELINE_JSON_SCHEMA_FILE, render: renderPipelineJsonSchema },
  /** The HTTP gateway's API, from the same zod schemas its routes validate with. */
  { file: OPENAPI_FILE, render: renderGatewayApi },
];
