import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { catalog, MESSAGE_TYPES } from '../../protocols/catalog.ts';

interface JsonObjectSchema {
  properties?: Record<string, unknown>;
  required?: string[];
}
const schema = JSON.parse(
  readFileSync(new URL('../../docs/schemas/envelope.schema.json', import.meta.url), 'utf8'),
) as { oneOf: Array<{ properties: { type: { const: string }; body: JsonObjectSchema } }> };

describe('docs/schemas/envelope.schema.json agrees with the server on optional fields', () => {
  it('run.request.v1 params is optional, as the server treats it (regression: it was marked required)', () => {
    const body = schema.oneOf.find((m) => m.properties.type.const === 'run.request.v1')!.properties.body;
    expect(body.required ?? []).not.toContain('params');
    expect(catalog['run.request.v1'].safeParse({ yaml: 'x' }).success).toBe(true);
  });

  it('marks a body field required exactly when the server refuses a body without it', () => {
    const disagreements: string[] = [];
    for (const type of MESSAGE_TYPES) {
      const zodBody = catalog[type] as unknown as z.ZodType & { shape?: Record<string, z.ZodType> };
      const member = schema.oneOf.find((m) => m.properties.type.const === type);
      expect(member, type).toBeDefined();
      if (!zodBody.shape) continue;
      const required = new Set(member!.properties.body.required ?? []);
      for (const [field, fieldSchema] of Object.entries(zodBody.shape)) {
        const serverRequires = !fieldSchema.safeParse(undefined).success;
        if (serverRequires !== required.has(field))
          disagreements.push(
            `${type}.${field}: server ${serverRequires ? 'requires' : 'accepts without'} it`,
          );
      }
    }
    expect(disagreements).toEqual([]);
  });
});
