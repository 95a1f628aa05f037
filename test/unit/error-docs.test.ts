import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../protocols/vocabulary/errors.ts';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `(GOV_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);

  it('documents every error code the code defines', () => {
    expect(ERROR_CODES.filter((c) => !documented.includes(c))).toEqual([]);
  });

  it('documents no code that the code does not define', () => {
    expect(documented.filter((c) => !(ERROR_CODES as readonly string[]).includes(c!))).toEqual([]);
  });
});
