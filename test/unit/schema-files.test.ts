import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILES } from '../../system/schema-files.ts';

describe('published JSON Schemas', () => {
  for (const { file, render } of SCHEMA_FILES) {
    it(`${file} is up to date with the zod definitions (npm run schemas)`, () => {
      expect(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')).toBe(render());
    });
  }
});
