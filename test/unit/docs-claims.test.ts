/** Claims the docs make about defaults, checked against the code that sets them. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { actorInbox } from '../../protocols/subjects.ts';
import type { ChildSpec } from '../../supervisors/index.ts';
import { systemSpec } from '../../system/index.ts';

const doc = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

function service(kind: string): ChildSpec {
  const root = systemSpec({ teams: [] });
  const s = root.children.find((c) => c.id === 'services')!.start;
  if (s.kind !== 'supervisor') throw new Error('services is not a supervisor');
  const c = s.spec.children.find((x) => x.start.kind !== 'supervisor' && x.start.actorKind === kind);
  if (!c) throw new Error(`no ${kind} service`);
  return c;
}

describe('http-api.md: the violation route under agov up', () => {
  it('answers 200 because the system spec puts the gateway on the token authority’s reporterAllowlist (regression: the doc said 403)', () => {
    const gateway = service('gateway');
    const authority = service('token-authority');
    if (gateway.start.kind === 'supervisor' || authority.start.kind === 'supervisor')
      throw new Error('unreachable');
    const inbox = actorInbox('gateway', gateway.start.actorId);
    expect((authority.start.args as { reporterAllowlist?: string[] }).reporterAllowlist).toContain(inbox);
    expect(doc('http-api.md')).toContain(`reporterAllowlist: ["${inbox}"]`);
  });
});
