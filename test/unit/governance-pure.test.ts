import { describe, expect, it } from 'vitest';
import { evaluateBudget } from '../../actors/error-budget/budget-evaluator.ts';
import { compileBudget } from '../../actors/error-budget/budget-policy.ts';
import { parsePipeline } from '../../protocols/pipeline/parse.ts';
import { diagnosticFile } from '../../actors/error-budget/budget-monitor-options.ts';
import { budgetPolicyFromPipeline } from '../../actors/error-budget/pipeline-budget.ts';
import { buildHandoffReport, type HandoffInput } from '../../actors/error-budget/index.ts';
import { decideRenewal, retryAt, toVaultSeconds } from '../../actors/token/renewal-schedule.ts';
import { childPolicies, childTier, runPolicies } from '../../actors/token/token-policy.ts';
import { HandoffReportSchema } from '../../protocols/messages/governance.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('token policies derived from tiers', () => {
  it('gives a run token agov-run, one policy per tier its stages use and the declared ones, sorted and unique', () => {
    expect(runPolicies(['T1', 'T0', 'T1'], ['Team-Build'])).toEqual([
      'agov-run',
      'agov-tier-t0',
      'agov-tier-t1',
      'team-build',
    ]);
  });

  it("scopes a child token to the run's tier policies up to its stage tier, never agov-run", () => {
    expect(childPolicies('T1', ['T0', 'T1', 'T2'])).toEqual(['agov-tier-t0', 'agov-tier-t1']);
    expect(childPolicies('T0', ['T1', 'T2'])).toEqual(['agov-tier-t1']);
    expect(childPolicies('T2', ['T0'])).toEqual(['agov-tier-t0']);
  });

  it("takes the stage's declared tier, else the run's lowest", () => {
    expect(childTier(['T2', 'T1'], { deploy: 'T2' }, 'deploy')).toBe('T2');
    expect(childTier(['T2', 'T1'], { deploy: 'T2' }, 'build')).toBe('T1');
    expect(childTier([], undefined, undefined)).toBe('T0');
  });
});

describe('renewal schedule', () => {
  const state = { ttlMs: 2 * HOUR, renewEveryMs: 30 * MIN, maxExpiresAt: 3 * HOUR, nextRenewAt: 30 * MIN };

  it('waits until the renewal is due', () => {
    expect(decideRenewal(state, 29 * MIN)).toEqual({ action: 'wait', untilMs: 30 * MIN });
  });

  it('renews by the full TTL while the max TTL is out of reach', () => {
    expect(decideRenewal(state, 30 * MIN)).toEqual({ action: 'renew', incrementMs: 2 * HOUR, last: false });
  });

  it('caps the renewal that reaches the max TTL and marks it the last', () => {
    expect(decideRenewal({ ...state, nextRenewAt: HOUR }, 90 * MIN)).toEqual({
      action: 'renew',
      incrementMs: 90 * MIN,
      last: true,
    });
  });

  it('stops once the max TTL has passed', () => {
    expect(decideRenewal(state, 3 * HOUR)).toEqual({ action: 'at-max' });
  });

  it('retries a failed renewal before the token expires', () => {
    expect(retryAt(0, 60_000, 30_000)).toBe(29_000);
    expect(retryAt(0, 60_000, 10 * MIN)).toBe(60_000);
    expect(toVaultSeconds(7_200_999)).toBe(7_200);
    expect(toVaultSeconds(10)).toBe(1);
  });
});

describe('pipeline error budgets as store policies', () => {
  it('breaches a count budget on error maxErrors + 1 and warns at the warn ratio', () => {
    const c = compileBudget(
      budgetPolicyFromPipeline({ kind: 'count', maxErrors: 5, windowMs: 600_000, warn: 0.75, breach: 1 }),
    );
    expect(c).toMatchObject({ kind: 'count', maxErrors: 5, warnAt: 4, breachAt: 6 });
  });

  it('regression (issue 14): accepts maxErrors: 0 in the DSL, and then the first error breaches, as documented', () => {
    const parsed = parsePipeline(
      'name: z\nversion: 1\nerrorBudget: { maxErrors: 0, windowMs: 60000 }\nstages:\n  - id: a\n    task: { kind: noop }\n',
    );
    expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
    const c = compileBudget(
      budgetPolicyFromPipeline({ kind: 'count', maxErrors: 0, windowMs: 60_000, warn: 0.8, breach: 1 }),
    );
    expect(c).toMatchObject({ maxErrors: 0, breachAt: 1 });
    expect(evaluateBudget(c, [{ errors: 0, total: 3 }]).verdict).toBe('ok');
    expect(evaluateBudget(c, [{ errors: 1, total: 1 }]).verdict).toBe('breach');
  });

  it('scales the breach point by the breach ratio', () => {
    const c = compileBudget(
      budgetPolicyFromPipeline({ kind: 'count', maxErrors: 10, windowMs: 60_000, warn: 0.3, breach: 0.5 }),
    );
    expect(c).toMatchObject({ maxErrors: 5, warnAt: 3, breachAt: 6 });
  });

  it('uses the pipeline default budget when none is declared', () => {
    expect(compileBudget(budgetPolicyFromPipeline())).toMatchObject({
      kind: 'count',
      maxErrors: 5,
      windowMs: 600_000,
    });
  });

  it('turns an SLO budget into breach and warn pairs over the declared burn window', () => {
    const c = compileBudget(
      budgetPolicyFromPipeline({
        kind: 'slo',
        slo: 0.99,
        periodMs: 24 * HOUR,
        burnWindowMs: HOUR,
        warnBurnRate: 2,
        breachBurnRate: 10,
      }),
    );
    if (c.kind !== 'slo') throw new Error('not slo');
    expect(c.pairs.map((p) => [p.longWindowMs, p.shortWindowMs, p.burnRate, p.severity])).toEqual([
      [HOUR, 5 * MIN, 10, 'breach'],
      [HOUR, 5 * MIN, 2, 'warn'],
    ]);
  });

  it('resolves a diagnostic name to a pipeline file', () => {
    expect(diagnosticFile('diagnostic')).toBe('examples/diagnostic.yaml');
    expect(diagnosticFile('ops/diag.yaml', 'x')).toBe('ops/diag.yaml');
  });
});

describe('handoff report', () => {
  const input: HandoffInput = {
    reportId: 'h-1',
    runId: 'r-1',
    pipeline: 'build',
    createdAt: 1_000,
    reason: 'budget-exhausted',
    budget: {
      kind: 'count',
      verdict: 'breach',
      breachedAt: 900,
      windows: [{ windowMs: 60_000, errors: 7, total: 7, burnRate: 1.4 }],
    },
    errors: [
      { at: 100, source: 'orchestrator', code: 'GOV_ERR_TIMEOUT', stageId: 'a', agentId: 'ag-1' },
      { at: 200, source: 'agent:ag-2', code: 'GOV_ERR_TIMEOUT', stageId: 'b', agentId: 'ag-2' },
      { at: 300, source: 'tool', code: 'LINT_FAILED', childRunId: 'c-1' },
    ],
    errorCount: 7,
    token: {
      accessor: 'acc',
      revoked: true,
      revokedAt: 950,
      reason: 'budget-exhausted',
      suspendedAgents: ['ag-1', 'ag-2'],
    },
    diagnostic: { pipeline: 'diagnostic', runId: 'd-1' },
    ledger: {
      stream: 'AUDIT',
      subjects: ['gov.audit.run'],
      fromSeq: 3,
      toSeq: 40,
      fromTs: 50,
      runIds: ['r-1', 'c-1'],
    },
  };

  it('names the latest failing stage and agent, counts errors by code and is valid against the schema', () => {
    const r = buildHandoffReport(input);
    expect(r.failing).toEqual({ stageId: 'b', agentId: 'ag-2', childRunId: 'c-1' });
    expect(r.errors).toMatchObject({ total: 7, byCode: { GOV_ERR_TIMEOUT: 2, LINT_FAILED: 1 } });
    expect(r.ledger).toMatchObject({ fromSeq: 3, toSeq: 40, toTs: 1_000 });
    expect(HandoffReportSchema.safeParse(r).success).toBe(true);
  });

  it('derives next steps from error codes, most frequent first, then the diagnostic, ledger and agents', () => {
    const steps = buildHandoffReport(input).nextSteps;
    expect(steps[0]).toMatch(/^GOV_ERR_TIMEOUT ×2: Stages timed out/);
    expect(steps[1]).toMatch(/^LINT_FAILED ×1/);
    expect(steps.join('\n')).toMatch(/diagnostic run d-1/);
    expect(steps.join('\n')).toMatch(/AUDIT sequences 3–40/);
    expect(steps.join('\n')).toMatch(/Resume the suspended agents \(ag-1, ag-2\)/);
  });
});
