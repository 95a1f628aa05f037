import { describe, expect, it } from 'vitest';
import { type Diagnostic, parsePipeline, type ResolvedPipeline } from '../../protocols/pipeline/index.ts';

function parseOk(text: string): ResolvedPipeline {
  const r = parsePipeline(text, 't.yaml');
  if (!r.ok)
    throw new Error(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join('\n'));
  return r.pipeline;
}

function diagnose(text: string): Diagnostic[] {
  const r = parsePipeline(text, 't.yaml');
  expect(r.ok).toBe(false);
  return r.diagnostics;
}

const graph = (p: ResolvedPipeline) => Object.fromEntries(p.stages.map((s) => [s.id, s.needs]));

const SERVICE = `
templates:
  service:
    parameters:
      dir: { type: string }
      retries: { type: number, default: 1 }
    stages:
      - id: compile
        agent: { tier: T1 }
        task: { kind: exec, command: [make, -C, "\${{ params.dir }}"] }
      - id: lint
        agent: { tier: T1 }
        task: { kind: exec, command: [lint, "\${{ params.dir }}"] }
      - id: test
        needs: [compile]
        agent: { tier: T1 }
        task: { kind: exec, command: [make, test] }
        retries: { max: "\${{ params.retries }}", backoffMs: 10 }
`;

describe('templates', () => {
  it('namespaces template stage ids and rewrites needs inside the namespace', () => {
    const p = parseOk(`name: t
version: 1
${SERVICE}
stages:
  - { id: checkout, task: { kind: noop } }
  - uses: service
    as: api
    needs: [checkout]
    with: { dir: api }
  - { id: deploy, needs: [api], task: { kind: noop } }
`);
    expect(graph(p)).toEqual({
      checkout: [],
      'api.compile': ['checkout'],
      'api.lint': ['checkout'],
      'api.test': ['api.compile'],
      deploy: ['api.lint', 'api.test'],
    });
    expect(p.stages[1]?.template).toEqual({ name: 'service', instance: 'api' });
  });

  it('fills template parameters from `with:` and defaults, keeping the parameter type in number fields', () => {
    const p = parseOk(`name: t
version: 1
${SERVICE}
stages:
  - uses: service
    idPrefix: web
    with: { dir: web, retries: 4 }
  - uses: service
    with: { dir: api }
`);
    const byId = new Map(p.stages.map((s) => [s.id, s]));
    expect(byId.get('web.compile')?.task).toMatchObject({ command: ['make', '-C', 'web'] });
    expect(byId.get('web.test')?.retries.max).toBe(4);
    expect(byId.get('service.test')?.retries.max).toBe(1);
    expect(byId.get('service.compile')?.task).toMatchObject({ command: ['make', '-C', 'api'] });
  });

  it('passes pipeline parameters through `with:` for instantiation later', () => {
    const p = parseOk(`name: t
version: 1
parameters:
  root: { type: string, default: src }
  attempts: { type: number, default: 2 }
${SERVICE}
stages:
  - uses: service
    as: api
    with: { dir: "\${{ params.root }}/api", retries: "\${{ params.attempts }}" }
`);
    const test = p.stages.find((s) => s.id === 'api.test');
    expect(test?.retries.max).toBe(`$\{{ params.attempts }}`);
    expect(p.stages[0]?.task).toMatchObject({ command: ['make', '-C', `$\{{ params.root }}/api`] });
  });

  it('lets a stage need one stage of a template instance by its full id', () => {
    const p = parseOk(`name: t
version: 1
${SERVICE}
stages:
  - { uses: service, as: api, with: { dir: api } }
  - { id: docs, needs: [api.compile], task: { kind: noop } }
`);
    expect(graph(p).docs).toEqual(['api.compile']);
  });

  it('expands templates that use templates, nesting the namespaces', () => {
    const p = parseOk(`name: t
version: 1
templates:
  step:
    parameters: { ms: { type: number, default: 1 } }
    stages:
      - { id: wait, task: { kind: sleep, ms: "\${{ params.ms }}" } }
  pair:
    stages:
      - { uses: step, as: first, with: { ms: 2 } }
      - { uses: step, as: second, needs: [first] }
stages:
  - { id: go, task: { kind: noop } }
  - { uses: pair, as: p, needs: [go] }
  - { id: end, needs: [p], task: { kind: noop } }
`);
    expect(graph(p)).toEqual({
      go: [],
      'p.first.wait': ['go'],
      'p.second.wait': ['p.first.wait'],
      end: ['p.second.wait'],
    });
    expect(p.stages[1]?.task).toEqual({ kind: 'sleep', ms: 2 });
    expect(p.stages[2]?.template).toEqual({ name: 'step', instance: 'p.second' });
  });

  it('reports an unknown `with:` parameter at its key and a missing one at `uses`', () => {
    const ds = diagnose(`name: t
version: 1
${SERVICE}
stages:
  - uses: service
    with: { dri: api }
`);
    expect(ds.map((d) => [d.code, d.line, d.column])).toEqual([
      ['missing-parameter', 23, 11],
      ['unknown-parameter', 24, 13],
    ]);
    expect(ds[1]?.message).toContain('has no parameter "dri"');
  });

  it('reports a `with:` value of the wrong type', () => {
    const ds = diagnose(`name: t
version: 1
parameters: { label: { type: string, default: x } }
${SERVICE}
stages:
  - uses: service
    with: { dir: api, retries: "\${{ params.label }}" }
  - uses: service
    as: b
    with: { dir: api, retries: yes }
`);
    expect(ds.map((d) => d.code)).toEqual(['parameter-type', 'parameter-type']);
    expect(ds[0]?.message).toContain('"label" is a string');
  });

  it('reports a template stage that needs a stage outside the template', () => {
    const ds = diagnose(`name: t
version: 1
templates:
  solo:
    stages:
      - { id: a, needs: [checkout], task: { kind: noop } }
stages:
  - { id: checkout, task: { kind: noop } }
  - { uses: solo, needs: [checkout] }
`);
    expect(ds).toMatchObject([{ code: 'unknown-stage', line: 6, column: 26 }]);
  });

  it('checks templates that no stage uses', () => {
    const ds = diagnose(`name: t
version: 1
templates:
  unused:
    stages:
      - { id: a, agent: { tier: T0 }, task: { kind: exec, command: [ls] } }
      - { id: b, needs: [nope], task: { kind: noop } }
stages:
  - { id: only, task: { kind: noop } }
`);
    expect(ds.map((d) => d.code)).toEqual(['tier-not-allowed', 'unknown-stage']);
  });

  it('reports a template parameter reference the template does not declare', () => {
    const ds = diagnose(`name: t
version: 1
parameters: { env: { type: string, default: prod } }
templates:
  closed:
    stages:
      - { id: a, task: { kind: fail, message: "\${{ params.env }}" } }
stages:
  - { uses: closed }
`);
    expect(ds).toMatchObject([
      { code: 'unknown-parameter', message: expect.stringContaining('template "closed"') },
    ]);
  });

  it('rejects a namespace that clashes with a stage id', () => {
    const ds = diagnose(`name: t
version: 1
${SERVICE}
stages:
  - { id: api, task: { kind: noop } }
  - { uses: service, as: api, with: { dir: x } }
`);
    expect(ds.map((d) => d.code)).toEqual(['duplicate-stage']);
  });

  it('rejects `as` together with `idPrefix`', () => {
    const ds = diagnose(`name: t
version: 1
${SERVICE}
stages:
  - { uses: service, as: a, idPrefix: b, with: { dir: x } }
`);
    expect(ds).toMatchObject([
      { code: 'schema', message: expect.stringContaining('either `as` or `idPrefix`') },
    ]);
  });
});
