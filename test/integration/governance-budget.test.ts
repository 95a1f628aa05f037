import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetMonitorKind } from '../../actors/error-budget/budget-monitor.ts';
import { tokenAuthorityKind } from '../../actors/token/token-authority.ts';
import { VaultTokenClient } from '../../actors/token/vault-client.ts';
import { unwrapSecret } from '../../actors/token/vault-wrapping.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import { Bus } from '../../bus/bus.ts';
import type { Subscription } from '@nats-io/transport-node';
import type { BodyOf } from '../../protocols/catalog.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { NotFoundError, TokenRevokedError } from '../../protocols/vocabulary/errors.ts';
import {
  actorInbox,
  allObs,
  auditSubject,
  containSubject,
  errorsSubject,
  serviceQueue,
  serviceSubject,
} from '../../protocols/subjects.ts';
import { collect, serve } from '../harness/index.ts';
import {
  consumerDrained,
  type GovernanceEnv,
  governance,
  governanceEnv,
  publishRunEvent,
} from './governance-setup.ts';

let env: GovernanceEnv;
let authority: ActorHandle;
let monitor: ActorHandle;
let orchestrator: Bus;
let orchestratorSub: Subscription;
let feed: ReturnType<typeof collect>;
const diagnosticRequests: Array<BodyOf<'run.request.v1'>> = [];

const budget = (maxErrors: number) =>
  governance({ errorBudget: { kind: 'count', maxErrors, windowMs: 60_000 } });

function reportError(runId: string, extra: Partial<BodyOf<'budget.report.v1'>> = {}) {
  env.client.tell(errorsSubject(runId), {
    type: 'budget.report.v1',
    body: {
      runId,
      source: 'agent:ag-b',
      outcome: 'error',
      code: 'GOV_ERR_TIMEOUT',
      message: 'too slow',
      stageId: 'build',
      agentId: 'ag-b',
      ...extra,
    },
  });
}

const is =
  (type: string, runId: string, pred: (e: Envelope) => boolean = () => true) =>
  (e: Envelope) =>
    e.type === type && (e.body as { runId?: string }).runId === runId && pred(e);
const budgetEvent = (runId: string, event: string) =>
  is('budget.event.v1', runId, (e) => e.type === 'budget.event.v1' && e.body.event === event);
const tokenEvent = (runId: string, action: string) =>
  is('token.event.v1', runId, (e) => e.type === 'token.event.v1' && e.body.action === action);

beforeAll(async () => {
  env = await governanceEnv();
  feed = collect(env.client, allObs());
  await feed.ready();
  authority = await runActor(tokenAuthorityKind, {
    id: 'ta-b',
    bus: { servers: env.natsUrl },
    clock: env.clock,
    args: env.args,
  });
  monitor = await runActor(budgetMonitorKind, {
    id: 'bm-1',
    bus: { servers: env.natsUrl },
    clock: env.clock,
    args: { redisUrl: env.redisUrl },
  });
  env.servers.onStop(async () => {
    await monitor.stop();
  });
  env.servers.onStop(async () => {
    await authority.stop();
  });
  // A stub orchestrator that accepts the diagnostic run.
  orchestrator = await Bus.connect({ servers: env.natsUrl, name: 'stub-orchestrator' });
  env.servers.onStop(() => orchestrator.close());
  orchestratorSub = serve(
    orchestrator,
    serviceSubject('orchestrator'),
    (req) => {
      if (req.type !== 'run.request.v1') return undefined;
      diagnosticRequests.push(req.body);
      return {
        type: 'run.accepted.v1',
        body: { runId: `diag-${diagnosticRequests.length}`, pipeline: 'diagnostic', stages: ['open'] },
      };
    },
    { queue: serviceQueue('orchestrator') },
  );
  await orchestrator.flush();
});
afterAll(() => env.servers.stopAll());

describe('budget monitor over nats, redis and the Vault dev server', () => {
  it('on a run exhausting its budget revokes the token, suspends its agents, requests the diagnostic and stores a handoff report, in that order on the feed', async () => {
    const agentInbox = collect(env.client, actorInbox('agent', 'ag-b'));
    await agentInbox.ready();
    await publishRunEvent(env.client, { runId: 'rb-1', event: 'run-accepted', governance: budget(3) });
    await publishRunEvent(env.client, {
      runId: 'rb-1',
      event: 'stage-accepted',
      stageId: 'build',
      attempt: 1,
      agentId: 'ag-b',
    });
    const issued = await feed.next(tokenEvent('rb-1', 'issued'));
    const accessor = issued.type === 'token.event.v1' ? issued.body.accessor! : '';
    // The stage's agent holds a child token of the run token: the breach must revoke it too.
    const cred = await agentInbox.next((e) => e.type === 'agent.credentials.v2');
    if (cred.type !== 'agent.credentials.v2') throw new Error('no child credentials');
    const child = await unwrapSecret(env.vault.addr, cred.body.wrappingToken);
    await consumerDrained(env.client, 'budget-monitor');
    await consumerDrained(env.client, 'token-authority');

    for (let i = 0; i < 4; i++) reportError('rb-1');
    const ready = await feed.next(is('handoff.ready.v1', 'rb-1'));

    const order = [
      budgetEvent('rb-1', 'breach'),
      tokenEvent('rb-1', 'revoked'),
      tokenEvent('rb-1', 'agents-suspended'),
      budgetEvent('rb-1', 'diagnostic-spawned'),
      is('handoff.ready.v1', 'rb-1'),
    ].map((p) => feed.seen.findIndex(p));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // The warn event must exist (findIndex is -1 otherwise, which is "less than" anything) and precede the breach.
    const warnAt = feed.seen.findIndex(budgetEvent('rb-1', 'warn'));
    expect(warnAt).toBeGreaterThanOrEqual(0);
    expect(warnAt).toBeLessThan(order[0]!);

    const cmd = await agentInbox.next((e) => e.type === 'agent.command.v1');
    expect(cmd.type === 'agent.command.v1' && cmd.body).toMatchObject({
      command: 'suspend',
      byTier: 'T2',
      by: 'token-authority',
      reason: 'budget-exhausted',
    });
    const vault = new VaultTokenClient({
      addr: env.vault.addr,
      token: env.vault.rootToken,
      clock: env.clock,
    });
    await expect(vault.lookupAccessor(accessor)).rejects.toBeInstanceOf(TokenRevokedError);
    // Revocation cascades on a breach (not only at run end): the agent's child token is dead as well.
    await expect(vault.lookupSelf(String(child.token))).rejects.toBeInstanceOf(TokenRevokedError);
    await expect(vault.lookupAccessor(cred.body.accessor)).rejects.toBeInstanceOf(TokenRevokedError);
    expect(diagnosticRequests[0]).toMatchObject({
      file: 'examples/diagnostic.yaml',
      params: { failedRunId: 'rb-1' },
      parentRunId: 'rb-1',
    });

    const got = await env.client.ask(serviceSubject('handoff'), {
      type: 'handoff.get.v1',
      body: { runId: 'rb-1' },
    });
    if (got.type !== 'handoff.report.v1') throw new Error(got.type);
    const report = got.body.report;
    expect(ready.type === 'handoff.ready.v1' && ready.body.reportId).toBe(report.reportId);
    expect(report).toMatchObject({
      runId: 'rb-1',
      pipeline: 'build',
      reason: 'budget-exhausted',
      failing: { stageId: 'build', agentId: 'ag-b' },
      budget: { kind: 'count', verdict: 'breach' },
      errors: { total: 4, byCode: { GOV_ERR_TIMEOUT: 4 } },
      token: { accessor, revoked: true, reason: 'budget-exhausted', suspendedAgents: ['ag-b'] },
      diagnostic: { pipeline: 'diagnostic', runId: 'diag-1' },
      ledger: { stream: 'AUDIT', runIds: ['rb-1'] },
    });
    expect(report.errors.timeline).toHaveLength(4);
    expect(report.ledger.fromSeq).toBeGreaterThan(0);
    expect(report.ledger.toSeq).toBeGreaterThanOrEqual(report.ledger.fromSeq!);
    expect(report.nextSteps.join('\n')).toMatch(/GOV_ERR_TIMEOUT ×4/);

    // Errors after the breach change nothing: the breach happens once.
    reportError('rb-1');
    const state = await env.client.ask(serviceSubject('budget-monitor'), {
      type: 'budget.status.v1',
      body: { runId: 'rb-1' },
    });
    expect(state.type === 'budget.state.v1' && state.body).toMatchObject({
      verdict: 'breach',
      breached: true,
    });
    expect(feed.seen.filter(budgetEvent('rb-1', 'breach'))).toHaveLength(1);
    const list = await env.client.ask(serviceSubject('handoff'), {
      type: 'handoff.list.v1',
      body: { runId: 'rb-1' },
    });
    expect(list.type === 'handoff.reports.v1' && list.body.reports).toHaveLength(1);
    agentInbox.close();
  });

  it('on a breach orders the run contained and quarantines only the agent its own failures implicate; resumes it when the diagnostic run ends', async () => {
    const runId = 'rb-q';
    const bad = collect(env.client, actorInbox('agent', 'ag-qbad'));
    const ok = collect(env.client, actorInbox('agent', 'ag-qok'));
    const contain = collect(env.client, containSubject(runId));
    await Promise.all([bad.ready(), ok.ready(), contain.ready()]);
    await publishRunEvent(env.client, { runId, event: 'run-accepted', governance: budget(3) });
    for (const agentId of ['ag-qbad', 'ag-qok'])
      await publishRunEvent(env.client, {
        runId,
        event: 'stage-accepted',
        stageId: 's',
        attempt: 1,
        agentId,
      });
    await consumerDrained(env.client, 'budget-monitor');
    reportError(runId, { agentId: 'ag-qok' });
    for (let i = 0; i < 3; i++) reportError(runId, { agentId: 'ag-qbad' });
    await feed.next(is('handoff.ready.v1', runId));
    const order = await contain.next((e) => e.type === 'run.contain.v1');
    expect(order.type === 'run.contain.v1' && order.body).toMatchObject({ runId, cause: 'budget-exhausted' });
    const suspended = feed.seen.find(tokenEvent(runId, 'agents-suspended'));
    expect(suspended?.type === 'token.event.v1' && suspended.body.agentIds).toEqual(['ag-qbad']);
    const cmd = await bad.next((e) => e.type === 'agent.command.v1');
    expect(cmd.type === 'agent.command.v1' && cmd.body.command).toBe('suspend');
    const spawned = feed.seen.find(budgetEvent(runId, 'diagnostic-spawned'));
    const diagRunId = spawned?.type === 'budget.event.v1' ? spawned.body.diagnosticRunId! : '';
    expect(diagRunId).not.toBe('');
    // The diagnostic run ends: the agent held for it is resumed, and that is on the feed.
    await publishRunEvent(env.client, { runId: diagRunId, event: 'run-succeeded', parentRunId: runId });
    const released = await feed.next(budgetEvent(runId, 'agents-released'));
    expect(released.type === 'budget.event.v1' && released.body.agentIds).toEqual(['ag-qbad']);
    const resume = await bad.next((e) => e.type === 'agent.command.v1' && e.body.command === 'resume');
    expect(resume.type === 'agent.command.v1' && resume.body).toMatchObject({
      byTier: 'T2',
      by: 'budget-monitor',
    });
    // The agent whose one failure the pipeline explains was never told anything.
    expect(ok.seen.filter((e) => e.type === 'agent.command.v1')).toEqual([]);
    for (const c of [bad, ok, contain]) c.close();
  });

  it('quarantines nobody when the failures are spread over the fleet, and the handoff report says so (regression: three bad runs suspended every agent)', async () => {
    const runId = 'rb-spread';
    await publishRunEvent(env.client, { runId, event: 'run-accepted', governance: budget(3) });
    await consumerDrained(env.client, 'budget-monitor');
    for (const agentId of ['ag-s1', 'ag-s2', 'ag-s3', 'ag-s4']) reportError(runId, { agentId });
    await feed.next(is('handoff.ready.v1', runId));
    const suspended = feed.seen.find(tokenEvent(runId, 'agents-suspended'));
    expect(suspended?.type === 'token.event.v1' && suspended.body.agentIds).toEqual([]);
    const got = await env.client.ask(serviceSubject('handoff'), { type: 'handoff.get.v1', body: { runId } });
    expect(got.type === 'handoff.report.v1' && got.body.report.token.suspendedAgents).toEqual([]);
  });

  it('counts stage failures from the orchestrator events against the run budget', async () => {
    await publishRunEvent(env.client, { runId: 'rb-stage', event: 'run-accepted', governance: budget(1) });
    for (let attempt = 1; attempt <= 2; attempt++) {
      await publishRunEvent(env.client, {
        runId: 'rb-stage',
        event: 'stage-failed',
        stageId: 'deploy',
        attempt,
        agentId: 'ag-d',
        error: { code: 'GOV_ERR_INTERNAL', message: 'exit 1', retryable: true },
      });
    }
    await feed.next(budgetEvent('rb-stage', 'breach'));
    const ready = await feed.next(is('handoff.ready.v1', 'rb-stage'));
    const got = await env.client.ask(serviceSubject('handoff'), {
      type: 'handoff.get.v1',
      body: { reportId: ready.type === 'handoff.ready.v1' ? ready.body.reportId : '' },
    });
    expect(got.type === 'handoff.report.v1' && got.body.report).toMatchObject({
      failing: { stageId: 'deploy', agentId: 'ag-d' },
      errors: { byCode: { GOV_ERR_INTERNAL: 2 } },
    });
  });

  it('when the failure that breaches also ends the run, revokes the token once (run-failed or the breach, whichever reaches the authority first) and suspends the agents after both (docs/observability-feed.md)', async () => {
    const runId = 'rb-ends';
    await publishRunEvent(env.client, { runId, event: 'run-accepted', governance: budget(1) });
    await publishRunEvent(env.client, {
      runId,
      event: 'stage-accepted',
      stageId: 'deploy',
      attempt: 1,
      agentId: 'ag-e',
    });
    await feed.next(tokenEvent(runId, 'issued'));
    const failed = (attempt: number) => ({
      runId,
      event: 'stage-failed' as const,
      stageId: 'deploy',
      attempt,
      agentId: 'ag-e',
      error: { code: 'GOV_ERR_INTERNAL', message: 'exit 1', retryable: false },
    });
    await publishRunEvent(env.client, failed(1));
    await publishRunEvent(env.client, failed(2));
    await publishRunEvent(env.client, { runId, event: 'run-failed', error: failed(2).error });
    await feed.next(is('handoff.ready.v1', runId));
    const seq = feed.seen
      .filter(
        (e) =>
          (e.type === 'token.event.v1' || e.type === 'budget.event.v1' || e.type === 'handoff.ready.v1') &&
          (e.body as { runId?: string }).runId === runId,
      )
      .map((e) =>
        e.type === 'token.event.v1'
          ? `token ${e.body.action}${e.body.reason ? ` ${e.body.reason}` : ''}`
          : e.type === 'budget.event.v1'
            ? `budget ${e.body.event}`
            : 'handoff.ready',
      );
    // Two actors race here: the token authority revokes on `run-failed`, the budget monitor asks it to
    // revoke on the breach. Whichever reaches the authority first revokes; the other finds it revoked.
    const revokes = seq.filter((x) => x.startsWith('token revoked'));
    expect(revokes).toHaveLength(1);
    expect(['token revoked run-failed', 'token revoked budget-exhausted']).toContain(revokes[0]);
    const at = (x: string) => seq.findIndex((y) => y.startsWith(x));
    const suspended = at('token agents-suspended');
    expect(at('budget breach')).toBeGreaterThanOrEqual(0);
    expect(at('budget breach')).toBeLessThan(suspended);
    expect(at('token revoked')).toBeLessThan(suspended);
    expect(suspended).toBeLessThan(at('budget diagnostic-spawned'));
    expect(at('budget diagnostic-spawned')).toBeLessThan(at('handoff.ready'));
    expect(seq).not.toContain('budget agents-suspended');
  });

  it("counts a child pipeline's errors against its parent's budget through parentRunId", async () => {
    await publishRunEvent(env.client, { runId: 'rp-1', event: 'run-accepted', governance: budget(2) });
    await publishRunEvent(env.client, {
      runId: 'rc-1',
      event: 'run-accepted',
      parentRunId: 'rp-1',
      governance: budget(100),
    });
    await consumerDrained(env.client, 'budget-monitor');
    for (let i = 0; i < 3; i++) reportError('rc-1');
    const breach = await feed.next(budgetEvent('rp-1', 'breach'));
    expect(breach.type === 'budget.event.v1' && breach.body.childRunId).toBe('rc-1');
    const child = await env.client.ask(serviceSubject('budget-monitor'), {
      type: 'budget.status.v1',
      body: { runId: 'rc-1' },
    });
    expect(child.type === 'budget.state.v1' && child.body).toMatchObject({
      verdict: 'ok',
      breached: false,
      parentRunId: 'rp-1',
    });
    const got = await env.client.ask(serviceSubject('handoff'), {
      type: 'handoff.get.v1',
      body: { runId: 'rp-1' },
    });
    expect(got.type === 'handoff.report.v1' && got.body.report).toMatchObject({
      failing: { childRunId: 'rc-1' },
      ledger: { runIds: ['rp-1', 'rc-1'] },
    });
  });

  it("charges a grandchild run's errors to its grandparent: ancestry is followed past the parent", async () => {
    await publishRunEvent(env.client, { runId: 'rg-1', event: 'run-accepted', governance: budget(2) });
    await publishRunEvent(env.client, {
      runId: 'rp-g',
      event: 'run-accepted',
      parentRunId: 'rg-1',
      governance: budget(100),
    });
    await publishRunEvent(env.client, {
      runId: 'rc-g',
      event: 'run-accepted',
      parentRunId: 'rp-g',
      governance: budget(100),
    });
    await consumerDrained(env.client, 'budget-monitor');
    for (let i = 0; i < 3; i++) reportError('rc-g');
    const breach = await feed.next(budgetEvent('rg-1', 'breach'));
    expect(breach.type === 'budget.event.v1' && breach.body.childRunId).toBe('rc-g');
    const parent = await env.client.ask(serviceSubject('budget-monitor'), {
      type: 'budget.status.v1',
      body: { runId: 'rp-g' },
    });
    expect(parent.type === 'budget.state.v1' && parent.body).toMatchObject({
      verdict: 'ok',
      breached: false,
    });
  });

  it('counts a redelivered orchestrator event once (same envelope id delivered twice)', async () => {
    await publishRunEvent(env.client, {
      runId: 'rb-redeliver',
      event: 'run-accepted',
      governance: budget(1),
    });
    const failed = env.client.wrap({
      type: 'run.event.v1',
      body: {
        runId: 'rb-redeliver',
        event: 'stage-failed',
        stageId: 'deploy',
        attempt: 1,
        agentId: 'ag-r',
        error: { code: 'GOV_ERR_INTERNAL', message: 'exit 1', retryable: true },
      },
      run: 'rb-redeliver',
    });
    // Two stream messages carrying one envelope: what a redelivery after a lost ack looks like to the
    // monitor (distinct Nats-Msg-Ids so JetStream's own deduplication does not hide the second copy).
    for (const copy of ['a', 'b'])
      await env.client.publishDurable(auditSubject('run', env.client.principal()), failed, {
        msgId: `${failed.id}-${copy}`,
      });
    await consumerDrained(env.client, 'budget-monitor');
    const state = await env.client.ask(serviceSubject('budget-monitor'), {
      type: 'budget.status.v1',
      body: { runId: 'rb-redeliver' },
    });
    if (state.type !== 'budget.state.v1') throw new Error(state.type);
    expect(state.body.windows.map((w) => w.errors)).toEqual(state.body.windows.map(() => 1));
    expect(state.body.breached).toBe(false);
    // A second, distinct failure does count: the first copy was counted, the duplicate was not.
    await publishRunEvent(env.client, {
      runId: 'rb-redeliver',
      event: 'stage-failed',
      stageId: 'deploy',
      attempt: 2,
      agentId: 'ag-r',
      error: { code: 'GOV_ERR_INTERNAL', message: 'exit 1', retryable: true },
    });
    await feed.next(budgetEvent('rb-redeliver', 'breach'));
  });

  it('links an external tool reporting with its PIPELINE_ID and the parent run id to the parent budget', async () => {
    await publishRunEvent(env.client, { runId: 'rp-2', event: 'run-accepted', governance: budget(1) });
    await consumerDrained(env.client, 'budget-monitor');
    reportError('tool-run-7', { source: 'tool:lint', parentRunId: 'rp-2', code: 'LINT_FAILED' });
    reportError('tool-run-7', { source: 'tool:lint', parentRunId: 'rp-2', code: 'LINT_FAILED' });
    const breach = await feed.next(budgetEvent('rp-2', 'breach'));
    expect(breach.type === 'budget.event.v1' && breach.body.childRunId).toBe('tool-run-7');
  });

  it('records in the handoff report that no orchestrator answered the diagnostic request', async () => {
    orchestratorSub.unsubscribe();
    await orchestrator.flush();
    await publishRunEvent(env.client, { runId: 'rb-noorch', event: 'run-accepted', governance: budget(1) });
    await consumerDrained(env.client, 'budget-monitor');
    reportError('rb-noorch');
    reportError('rb-noorch');
    await feed.next(budgetEvent('rb-noorch', 'diagnostic-failed'));
    await feed.next(is('handoff.ready.v1', 'rb-noorch'));
    const got = await env.client.ask(serviceSubject('handoff'), {
      type: 'handoff.get.v1',
      body: { runId: 'rb-noorch' },
    });
    if (got.type !== 'handoff.report.v1') throw new Error(got.type);
    expect(got.body.report.diagnostic).toMatchObject({
      pipeline: 'diagnostic',
      error: { code: 'GOV_ERR_NO_RESPONDERS' },
    });
    expect(got.body.report.diagnostic.runId).toBeUndefined();
    expect(got.body.report.nextSteps.join('\n')).toMatch(/No diagnostic run was started/);
  });

  it('answers a request for an unknown handoff report with NotFoundError', async () => {
    await expect(
      env.client.ask(serviceSubject('handoff'), { type: 'handoff.get.v1', body: { runId: 'never-ran' } }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });
});
