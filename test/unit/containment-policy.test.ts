/** Who a breach quarantines, and who admission thinks can serve a run (pure; the wiring is in test/integration). */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_QUARANTINE_MIN_AGENT_ERRORS,
  DEFAULT_QUARANTINE_MIN_SHARE,
  implicatedAgents,
  releaseAt,
} from '../../actors/error-budget/index.ts';
import { type AgentFacts, assertServable, unservedStages } from '../../actors/orchestrator/admission.ts';
import { instantiatePipeline, parsePipeline } from '../../protocols/pipeline/index.ts';
import { NoEligibleAgentError } from '../../protocols/vocabulary/errors.ts';

const policy = {
  minAgentErrors: DEFAULT_QUARANTINE_MIN_AGENT_ERRORS,
  minShare: DEFAULT_QUARANTINE_MIN_SHARE,
};
const err = (agentId: string | undefined, at: number, code = 'GOV_ERR_TASK_FAILED') => ({
  at,
  source: 'orchestrator',
  code,
  ...(agentId ? { agentId } : {}),
});
const window = { from: 1_000, to: 2_000 };

describe('quarantine evidence', () => {
  it('implicates the agent whose own failed attempts dominate the breach window', () => {
    const errors = [err('ag-bad', 1_100), err('ag-bad', 1_200), err('ag-bad', 1_300), err('ag-ok', 1_400)];
    expect(implicatedAgents(errors, window, policy)).toEqual(['ag-bad']);
  });

  it('implicates nobody when a pipeline fails the same way on every agent (regression: three bad runs suspended the whole fleet)', () => {
    const errors = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => err(`ag-${id}`, 1_100 + i));
    expect(implicatedAgents(errors, window, policy)).toEqual([]);
  });

  it('does not count one error, errors outside the window, or failures that are not the agent doing', () => {
    expect(implicatedAgents([err('ag-1', 1_500)], window, policy)).toEqual([]);
    expect(
      implicatedAgents([err('ag-1', 900), err('ag-1', 950), err('ag-1', 1_500)], window, policy),
    ).toEqual([]);
    const infra = [
      err('ag-1', 1_100, 'GOV_ERR_AGENT_LOST'),
      err('ag-1', 1_200, 'GOV_ERR_CREDENTIALS_MISSING'),
      err('ag-1', 1_300, 'GOV_ERR_RUN_CONTAINED'),
      err(undefined, 1_400, 'GOV_ERR_SCHEDULE_TO_START_TIMEOUT'),
    ];
    expect(implicatedAgents(infra, window, policy)).toEqual([]);
  });

  it('implicates two agents that share the failures evenly, and no more', () => {
    const errors = [err('x', 1_100), err('y', 1_200), err('x', 1_300), err('y', 1_400)];
    expect(implicatedAgents(errors, window, policy)).toEqual(['x', 'y']);
  });

  it('releases after the cool-down unless the hold is kept for an operator', () => {
    expect(releaseAt('cool-down', 500, 10)).toBe(510);
    expect(releaseAt('diagnostic-finished', 500, 10)).toBe(510);
    expect(releaseAt('operator', 500, 10)).toBeUndefined();
  });
});

function concrete(yaml: string) {
  const r = parsePipeline(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return instantiatePipeline(r.pipeline);
}

const RUN = concrete(`
name: adm
version: 1
stages:
  - { id: a, task: { kind: noop } }
  - { id: b, agent: { team: builders, tier: T1 }, task: { kind: sleep, ms: 1 } }
  - { id: kid, agent: { tier: T1 }, task: { kind: pipeline, name: t } }
templates:
  t:
    stages:
      - { id: q, task: { kind: noop } }
`);
const agent = (over: Partial<AgentFacts>): AgentFacts => ({
  agentId: 'ag',
  tier: 'T1',
  state: 'idle',
  ...over,
});

describe('admission by capacity', () => {
  it('finds the stages no live, in-service agent matches (child-pipeline stages are admitted with their child)', () => {
    expect(unservedStages(RUN.stages, []).map((s) => s.id)).toEqual(['a', 'b']);
    expect(unservedStages(RUN.stages, [agent({ team: 'builders' })]).map((s) => s.id)).toEqual([]);
    // A busy agent can serve later; a suspended, quarantined or dead one cannot without someone acting.
    expect(unservedStages(RUN.stages, [agent({ team: 'builders', state: 'working' })])).toEqual([]);
    for (const state of ['suspended', 'quarantined', 'failed', 'terminated'])
      expect(unservedStages(RUN.stages, [agent({ team: 'builders', state })]).map((s) => s.id)).toEqual([
        'a',
        'b',
      ]);
    expect(unservedStages(RUN.stages, [agent({ team: 'builders', dead: true })])).toHaveLength(2);
    expect(unservedStages(RUN.stages, [agent({ team: 'others' })]).map((s) => s.id)).toEqual(['b']);
    expect(unservedStages(RUN.stages, [agent({ team: 'builders', tier: 'T0' })]).map((s) => s.id)).toEqual([
      'b',
    ]);
    expect(
      unservedStages(RUN.stages, [agent({ team: 'builders', capabilities: ['noop'] })]).map((s) => s.id),
    ).toEqual(['b']);
  });

  it('refuses at once with GOV_ERR_NO_ELIGIBLE_AGENT naming the stages, or waits up to the asked bound for an agent', async () => {
    let now = 0;
    let local: AgentFacts[] = [agent({})];
    const src = {
      local: () => local,
      directory: async () => [] as AgentFacts[],
      now: () => now,
      sleep: async (ms: number) => {
        now += ms;
        if (now >= 300) local = [agent({ team: 'builders' })];
      },
    };
    const refused = await assertServable(RUN, src, 0).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NoEligibleAgentError);
    expect((refused as NoEligibleAgentError).details).toMatchObject({
      stages: [{ stageId: 'b', team: 'builders' }],
    });
    expect(String((refused as Error).message)).toMatch(/b \(tier >= T1, team builders, sleep\)/);
    await expect(assertServable(RUN, src, 1_000)).resolves.toBeUndefined();
    expect(now).toBeGreaterThanOrEqual(300);
    local = [];
    now = 0;
    const late = await assertServable(
      RUN,
      {
        ...src,
        sleep: async (ms: number) => {
          now += ms;
        },
      },
      250,
    ).catch((e: unknown) => e);
    expect((late as NoEligibleAgentError).details).toMatchObject({ waitedMs: 250 });
  });

  it('asks the agent directory about agents this orchestrator has not heard of yet', async () => {
    const src = {
      local: () => [],
      directory: async () => [agent({ team: 'builders' })],
      now: () => 0,
      sleep: async () => {},
    };
    await expect(assertServable(RUN, src, 0)).resolves.toBeUndefined();
  });
});
