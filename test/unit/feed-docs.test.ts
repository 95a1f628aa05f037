/**
 * docs/observability-feed.md against the code: every feed category the code publishes on has a row,
 * every type in the table is in the message catalogue, the (category, type) pairs the code emits are
 * the documented ones, and the documented event/action lists are exactly the schemas' enums.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { catalog, MESSAGE_TYPES } from '../../protocols/catalog.ts';
import { TokenActionSchema } from '../../protocols/messages/governance.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const doc = readFileSync(join(ROOT, 'docs/observability-feed.md'), 'utf8');

/** Table rows: subject category (the token after gov.obs.), type, and the "when" text. */
const rows = [...doc.matchAll(/^\| `gov\.obs\.([a-z-]+)[^`]*` \| `([a-z0-9.-]+)` \| (.*) \|$/gm)].map(
  (m) => ({
    category: m[1]!,
    type: m[2]!,
    when: m[3]!,
  }),
);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}
const code = ['actors', 'bus', 'supervisors', 'system']
  .flatMap((d) => sources(join(ROOT, d)))
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n')
  // Doc comments carry examples, not emissions.
  .replace(/^\s*(\*|\/\/).*$/gm, '');

/** (category, type) where the code emits a literal type next to its feed subject. */
const emitted = [
  ...code.matchAll(
    /(?:emit\(|publishGovernanceEvent\([^,]+,)\s*\[\s*'([a-z-]+)'[^\]]*\][^{]*?\{\s*type:\s*'([a-z0-9.-]+)'/g,
  ),
].map((m) => `${m[1]} ${m[2]}`);
const categories = new Set([
  ...[...code.matchAll(/(?:emit\(|publishGovernanceEvent\([^,]+,)\s*\[\s*'([a-z-]+)'/g)].map((m) => m[1]!),
  ...[...code.matchAll(/obsSubject\(\s*'([a-z-]+)'/g)].map((m) => m[1]!),
]);

const enumOf = (type: keyof typeof catalog, field: string): string[] => {
  const shape = (catalog[type] as unknown as { shape: Record<string, { options?: string[] }> }).shape;
  return [...(shape[field]!.options ?? [])];
};
/** Backticked values in a "when" cell, without the field names that introduce them. */
const ticked = (text: string) =>
  [...text.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).filter((w) => !['event', 'action'].includes(w));

describe('docs/observability-feed.md agrees with the code', () => {
  it('has a table with a row per feed message', () => {
    expect(rows.length).toBeGreaterThan(10);
  });

  it('names only message types of the catalogue', () => {
    for (const r of rows) expect(MESSAGE_TYPES, r.type).toContain(r.type);
  });

  it('documents every feed category the code publishes on', () => {
    const documented = new Set(rows.map((r) => r.category));
    expect([...categories].filter((c) => !documented.has(c))).toEqual([]);
  });

  it('documents every (category, type) the code emits', () => {
    const documented = new Set(rows.map((r) => `${r.category} ${r.type}`));
    expect(emitted.length).toBeGreaterThan(5);
    expect(emitted.filter((e) => !documented.has(e))).toEqual([]);
  });

  it('lists exactly the events of run.event.v1 and budget.event.v1 and the actions of token.event.v1 (regression: agents-suspended was filed under budget only)', () => {
    const when = (type: string) => rows.find((r) => r.type === type)!.when;
    expect(
      new Set(ticked(when('run.event.v1')).filter((w) => w.startsWith('run-') || w.startsWith('stage-'))),
    ).toEqual(new Set(enumOf('run.event.v1', 'event')));
    expect(new Set(ticked(when('budget.event.v1')))).toEqual(new Set(enumOf('budget.event.v1', 'event')));
    expect(new Set(ticked(when('token.event.v1')))).toEqual(new Set(TokenActionSchema.options));
  });
});
