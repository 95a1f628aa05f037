import { describe, expect, it } from 'vitest';
import { type GovError, PipelineInvalidError } from '../../protocols/vocabulary/errors.ts';
import { instantiatePipeline, parsePipeline, type ResolvedPipeline } from '../../protocols/pipeline/index.ts';

function parseOk(text: string): ResolvedPipeline {
  const r = parsePipeline(text, 'i.yaml');
  if (!r.ok)
    throw new Error(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join('\n'));
  return r.pipeline;
}

const PIPELINE = parseOk(`name: deploy
version: 1
parameters:
  env: { type: string, default: staging }
  waitMs: { type: number, default: 10 }
  verbose: { type: boolean, default: false }
  region: { type: string }
stages:
  - id: call
    agent: { tier: T1, role: "deployer-\${{ params.region }}" }
    task:
      kind: http
      method: POST
      url: "https://\${{ params.region }}.example.test/\${{ params.env }}"
      headers: { x-verbose: "\${{ params.verbose }}" }
    timeoutMs: "\${{ params.waitMs }}"
  - id: child
    needs: [call]
    agent: { tier: T1 }
    task: { kind: pipeline, name: hello, params: { pauseMs: "\${{ params.waitMs }}", note: "w=\${{ params.waitMs }}" } }
  - id: nap
    needs: [call]
    task: { kind: sleep, ms: "\${{ params.waitMs }}" }
`);

describe('instantiatePipeline', () => {
  it('interpolates references in strings and keeps number fields numbers', () => {
    const c = instantiatePipeline(PIPELINE, { region: 'eu', waitMs: 250 });
    const [call, child, nap] = c.stages;
    expect(call?.agent.role).toBe('deployer-eu');
    expect(call?.task).toMatchObject({
      url: 'https://eu.example.test/staging',
      headers: { 'x-verbose': 'false' },
    });
    expect(call?.timeoutMs).toBe(250);
    expect(child?.task).toMatchObject({ params: { pauseMs: 250, note: 'w=250' } });
    expect(nap?.task).toEqual({ kind: 'sleep', ms: 250 });
    expect(c.params).toEqual({ env: 'staging', waitMs: 250, verbose: false, region: 'eu' });
  });

  it('leaves the resolved pipeline untouched', () => {
    instantiatePipeline(PIPELINE, { region: 'eu' });
    expect(PIPELINE.stages[2]?.task).toEqual({ kind: 'sleep', ms: `$\{{ params.waitMs }}` });
  });

  it('reads numbers and booleans given as command-line strings', () => {
    const c = instantiatePipeline(PIPELINE, { region: 'us', waitMs: '42', verbose: 'true' });
    expect(c.stages[2]?.task).toEqual({ kind: 'sleep', ms: 42 });
    expect(c.params.verbose).toBe(true);
  });

  it('throws PipelineInvalidError for an unknown parameter', () => {
    expect(() => instantiatePipeline(PIPELINE, { region: 'eu', regoin: 'x' })).toThrow(PipelineInvalidError);
    expect(() => instantiatePipeline(PIPELINE, { region: 'eu', regoin: 'x' })).toThrow(
      /unknown parameter "regoin"/,
    );
  });

  it('throws PipelineInvalidError for a missing parameter without default', () => {
    try {
      instantiatePipeline(PIPELINE, {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PipelineInvalidError);
      expect((err as GovError).code).toBe('GOV_ERR_PIPELINE_INVALID');
      expect((err as GovError).message).toContain('missing parameter "region"');
    }
  });

  it('throws PipelineInvalidError for a mistyped parameter', () => {
    expect(() => instantiatePipeline(PIPELINE, { region: 'eu', waitMs: 'soon' })).toThrow(/is a number/);
    expect(() => instantiatePipeline(PIPELINE, { region: 'eu', verbose: 1 })).toThrow(PipelineInvalidError);
    expect(() => instantiatePipeline(PIPELINE, { region: 7 })).toThrow(/is a string/);
  });

  it('throws when a value does not fit the field it lands in', () => {
    expect(() => instantiatePipeline(PIPELINE, { region: 'eu', waitMs: -5 })).toThrow(/stage "call"/);
  });

  it('refuses parameter values that hold a reference themselves', () => {
    expect(() => instantiatePipeline(PIPELINE, { region: `$\{{ params.env }}` })).toThrow(
      PipelineInvalidError,
    );
  });
});
