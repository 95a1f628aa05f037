/** Every envelope example in docs/protocol.md is a valid message of the catalogue, as the server validates it. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateEnvelope } from '../../protocols/envelope.ts';
import { parsePipeline } from '../../protocols/pipeline/index.ts';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/^ {3}/gm, ''));
const shellExamples = [...doc.matchAll(/nats req \S+ '(\{.*\})'/g)].map((m) => m[1]!);

describe('docs/protocol.md examples', () => {
  it('has examples for every message an agent or a submitter sends or receives', () => {
    const types = blocks.map((b) => (JSON.parse(b) as { type: string }).type);
    for (const t of [
      'agent.register.v1',
      'actor.heartbeat.v1',
      'agent.task.assign.v1',
      'agent.task.accepted.v1',
      'agent.task.progress.v1',
      'agent.task.result.v1',
      'agent.command.v1',
      'agent.state.v1',
      'budget.report.v1',
      'run.request.v1',
      'run.accepted.v1',
    ])
      expect(types).toContain(t);
  });

  it('validates every example envelope against the catalogue', () => {
    for (const text of [...blocks, ...shellExamples]) {
      const value = JSON.parse(text) as { type: string };
      expect(() => validateEnvelope(value), value.type).not.toThrow();
    }
  });

  it('submits a pipeline that parses', () => {
    const req = blocks.map((b) => JSON.parse(b)).find((e) => e.type === 'run.request.v1');
    const parsed = parsePipeline(req.body.yaml, 'protocol.md');
    expect(parsed.ok).toBe(true);
  });
});
