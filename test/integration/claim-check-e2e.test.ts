/**
 * The claim check end to end (issue 15 item 3, docs/context.md): on a whole system started by `agov up`,
 * a pipeline run whose exec stage prints more than its inline cap succeeds, the stage's result carries
 * the memory id and summary of the full output, and `agov memory fetch ID` (the operator's CLI, as a
 * process) returns that output whole. claim-check.test.ts covers the agent's side in detail.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Bus } from '../../bus/index.ts';
import { ACTOR_KIND, serviceSubject } from '../../protocols/index.ts';
import { AgovSystem, TestServers, waitFor } from '../harness/index.ts';

const servers = new TestServers();
const system = new AgovSystem(
  servers,
  'agov-claim-e2e-',
  'teams:\n  - id: crew\n    strategy: one_for_one\n    members:\n      - { id: cc-worker-1, tier: T1, role: executor }\n',
);

afterAll(async () => {
  await system.stop();
  await servers.stopAll();
});

const LINES = 20_000;
const PIPELINE = `name: big-output
version: 1
stages:
  - id: big
    agent: { tier: T1 }
    task:
      kind: exec
      command: [${JSON.stringify(process.execPath)}, -e, "for (let i = 0; i < ${LINES}; i++) process.stdout.write('line ' + i + '\\\\n')"]
      maxOutputBytes: 1000
`;

interface Ref {
  memoryId: string;
  size: number;
  summary: { lines: number; format: string };
}

describe('claim check end to end', () => {
  it('a run whose exec output exceeds the inline cap succeeds with the memory id and summary in its result, and agov memory fetch returns the whole output', async () => {
    const { natsUrl } = await system.up();
    const bus = await Bus.connect({ servers: natsUrl, name: 'claim-e2e-test', askTimeoutMs: 20_000 });
    try {
      const accepted = await waitFor(
        'the orchestrator accepted the run (an eligible T1 agent registered)',
        async () => {
          try {
            return await bus.ask(serviceSubject(ACTOR_KIND.orchestrator), {
              type: 'run.request.v1',
              body: { yaml: PIPELINE },
            });
          } catch {
            return undefined;
          }
        },
        120_000,
        500,
      );
      const runId = (accepted.body as { runId: string }).runId;
      const state = await waitFor(
        'the run ended',
        async () => {
          const r = await bus.ask(serviceSubject(ACTOR_KIND.orchestrator), {
            type: 'run.get.v1',
            body: { runId },
          });
          const body = r.body as { status: string; stages: Array<{ stageId: string; output?: unknown }> };
          return ['succeeded', 'failed', 'cancelled', 'contained'].includes(body.status) ? body : undefined;
        },
        180_000,
        250,
      );
      expect(state.status).toBe('succeeded');
      const output = state.stages.find((s) => s.stageId === 'big')?.output as {
        stdout: string;
        truncated: boolean;
        memory?: { stdout?: Ref };
      };
      const full = Array.from({ length: LINES }, (_, i) => `line ${i}\n`).join('');
      // Premise: the output really was over the cap, so only a prefix is inline.
      expect(output.truncated).toBe(true);
      expect(output.stdout.length).toBeLessThanOrEqual(1000);
      expect(full.startsWith(output.stdout)).toBe(true);
      const ref = output.memory?.stdout;
      expect(ref).toMatchObject({ size: full.length, summary: { lines: LINES, format: 'text' } });

      const fetched = await system.agov(['memory', 'fetch', ref!.memoryId], natsUrl);
      expect(fetched.stderr).toBe('');
      expect(fetched.code).toBe(0);
      expect(fetched.stdout).toBe(full);
      const summary = await system.agov(['memory', 'fetch', ref!.memoryId, '-s'], natsUrl);
      expect(summary.code).toBe(0);
      expect(summary.stdout).toContain(`line ${LINES - 1}`);
    } finally {
      await bus.close();
    }
  }, 600_000);
});
