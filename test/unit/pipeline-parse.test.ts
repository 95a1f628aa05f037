import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DIAGNOSTIC_PIPELINE,
  DEFAULT_ERROR_BUDGET_MAX_ERRORS,
  DEFAULT_EXEC_TIMEOUT_MS,
  DEFAULT_RETRIES_MAX,
  DEFAULT_STAGE_TIMEOUT_MS,
  DEFAULT_TOKEN_RENEW_EVERY_MS,
  DEFAULT_TOKEN_TTL_MS,
  parsePipeline,
  type ResolvedPipeline,
} from '../../protocols/pipeline/index.ts';

const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url));

function parseOk(text: string): ResolvedPipeline {
  const r = parsePipeline(text, 'test.yaml');
  if (!r.ok)
    throw new Error(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join('\n'));
  return r.pipeline;
}

describe('parsePipeline', () => {
  it.each(readdirSync(examplesDir).filter((f) => f.endsWith('.yaml')))(
    'accepts the shipped example %s',
    (name) => {
      const r = parsePipeline(readFileSync(`${examplesDir}${name}`, 'utf8'), `examples/${name}`);
      expect(r.diagnostics).toEqual([]);
      expect(r.ok).toBe(true);
    },
  );

  it('fills in the defaults of stages, the error budget and the token', () => {
    const p = parseOk(`
name: tiny
version: 1
stages:
  - id: only
    task: { kind: noop }
`);
    expect(p.version).toBe('1');
    expect(p.parameters).toEqual({});
    const [stage] = p.stages;
    expect(stage).toMatchObject({
      id: 'only',
      needs: [],
      agent: { tier: 'T0' },
      timeoutMs: DEFAULT_STAGE_TIMEOUT_MS,
      retries: { max: DEFAULT_RETRIES_MAX },
      onFailure: 'fail',
    });
    expect(p.errorBudget).toMatchObject({
      kind: 'count',
      maxErrors: DEFAULT_ERROR_BUDGET_MAX_ERRORS,
      diagnostic: DEFAULT_DIAGNOSTIC_PIPELINE,
    });
    expect(p.token).toEqual({
      ttlMs: DEFAULT_TOKEN_TTL_MS,
      renewEveryMs: DEFAULT_TOKEN_RENEW_EVERY_MS,
      maxTtlMs: expect.any(Number),
      policies: [],
    });
  });

  it('gives an agent without a tier the lowest tier its task kind allows', () => {
    const p = parseOk(`
name: tiers
version: 1
stages:
  - id: run
    agent: { role: builder }
    task: { kind: exec, command: [make] }
`);
    expect(p.stages[0]?.agent).toEqual({ tier: 'T1', role: 'builder' });
    expect(p.stages[0]?.task).toMatchObject({
      kind: 'exec',
      timeoutMs: DEFAULT_EXEC_TIMEOUT_MS,
      env: { pass: [], set: {} },
    });
  });

  it('reads the SLO form of the error budget', () => {
    const p = parseOk(`
name: slo
version: 1
stages: [{ id: a, task: { kind: noop } }]
errorBudget: { slo: 0.995, periodMs: 86400000, breach: 0.9, diagnostic: triage }
`);
    expect(p.errorBudget).toMatchObject({
      kind: 'slo',
      slo: 0.995,
      periodMs: 86400000,
      breach: 0.9,
      diagnostic: 'triage',
    });
  });

  it('keeps run-time parameter references until the pipeline is instantiated', () => {
    const p = parseOk(`
name: refs
version: 1
parameters: { ms: { type: number, default: 5 } }
stages: [{ id: a, task: { kind: sleep, ms: "\${{ params.ms }}" } }]
`);
    expect(p.stages[0]?.task).toEqual({ kind: 'sleep', ms: `$\{{ params.ms }}` });
    expect(p.parameters.ms).toEqual({ type: 'number', default: 5 });
  });

  it('rejects token settings that renew no sooner than they expire', () => {
    const r = parsePipeline(`name: t
version: 1
stages: [{ id: a, task: { kind: noop } }]
token: { ttlMs: 1000, renewEveryMs: 1000 }
`);
    expect(r.ok).toBe(false);
    expect(r.diagnostics).toMatchObject([
      { code: 'schema', line: 4, column: 37, message: expect.stringContaining('renewEveryMs') },
    ]);
  });

  it('requires a pipeline task to name exactly one of file or name', () => {
    const r = parsePipeline(`name: t
version: 1
stages:
  - id: child
    agent: { tier: T1 }
    task: { kind: pipeline, file: a.yaml, name: a }
`);
    expect(r.diagnostics).toMatchObject([
      { code: 'schema', line: 6, message: expect.stringContaining('exactly one') },
    ]);
  });

  it('rejects an http task whose url is not a URL', () => {
    const r = parsePipeline(`name: t
version: 1
stages:
  - id: call
    agent: { tier: T1 }
    task: { kind: http, method: GET, url: not-a-url }
`);
    expect(r.diagnostics).toMatchObject([{ code: 'schema', line: 6, column: 43 }]);
  });

  it('reports an empty file as a schema error at the top', () => {
    const r = parsePipeline('', 'empty.yaml');
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0]).toMatchObject({ file: 'empty.yaml', line: 1, column: 1, code: 'schema' });
  });
});
