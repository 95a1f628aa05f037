import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenAuthorityKind } from '../../actors/token/token-authority.ts';
import { tokenRenewerKind } from '../../actors/token/token-renewer.ts';
import { VaultTokenClient } from '../../actors/token/vault-client.ts';
import { unwrapSecret } from '../../actors/token/vault-wrapping.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import { Bus } from '../../bus/bus.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { ForbiddenError, TokenRevokedError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox, allAudit, allObs, containSubject, serviceSubject } from '../../protocols/subjects.ts';
import { collect, serve, waitFor } from '../harness/index.ts';
import {
  consumerDrained,
  type GovernanceEnv,
  governance,
  governanceEnv,
  HOUR_MS,
  MINUTE_MS,
  publishRunEvent,
} from './governance-setup.ts';

let env: GovernanceEnv;
let authority: ActorHandle;
let renewer: ActorHandle;
let vault: VaultTokenClient;
let feed: ReturnType<typeof collect>;
/** Every raw payload on the feed and the audit subjects, to prove no secret is ever published there. */
const published: string[] = [];

const startAuthority = () =>
  runActor(tokenAuthorityKind, {
    id: 'ta-1',
    bus: { servers: env.natsUrl },
    clock: env.clock,
    args: { ...env.args, reporterAllowlist: ['auditor-1'] },
  });

const tokenEvent = (runId: string, action: string) => (e: Envelope) =>
  e.type === 'token.event.v1' && e.body.runId === runId && e.body.action === action;

beforeAll(async () => {
  env = await governanceEnv();
  vault = new VaultTokenClient({ addr: env.vault.addr, token: env.vault.rootToken, clock: env.clock });
  feed = collect(env.client, allObs());
  for (const subject of [allObs(), allAudit()])
    env.client.subscribeRaw(subject, (m) => published.push(Buffer.from(m.data).toString('latin1')));
  await feed.ready();
  authority = await startAuthority();
  renewer = await runActor(tokenRenewerKind, {
    id: 'tr-1',
    bus: { servers: env.natsUrl },
    clock: env.clock,
    args: env.args,
  });
  env.servers.onStop(async () => {
    await renewer.stop();
  });
  env.servers.onStop(async () => {
    await authority.stop();
  });
});
afterAll(() => env.servers.stopAll());

describe('token authority and renewer over nats, redis and the Vault dev server', () => {
  it('issues a run token with the declared TTL, max TTL, tier policies and run metadata when the run is accepted', async () => {
    await publishRunEvent(env.client, {
      runId: 'r-issue',
      event: 'run-accepted',
      governance: governance({
        token: {
          ttlMs: 2 * HOUR_MS,
          renewEveryMs: 30 * MINUTE_MS,
          maxTtlMs: 8 * HOUR_MS,
          policies: ['team-build'],
        },
      }),
    });
    const issued = await feed.next(tokenEvent('r-issue', 'issued'));
    const accessor = issued.type === 'token.event.v1' ? issued.body.accessor! : '';
    const info = await vault.lookupAccessor(accessor);
    expect(info.ttlS).toBe(2 * 3600);
    expect(info.explicitMaxTtlS).toBe(8 * 3600);
    expect(info.renewable).toBe(true);
    expect(info.policies).toEqual(['agov-run', 'agov-tier-t0', 'agov-tier-t1', 'default', 'team-build']);
    expect(info.meta).toMatchObject({ run_id: 'r-issue', pipeline: 'build' });

    // run-started and a replayed run-accepted issue nothing new: one token per run.
    await publishRunEvent(env.client, { runId: 'r-issue', event: 'run-started' });
    const again = await env.client.ask(serviceSubject('token-authority'), {
      type: 'token.issue.v1',
      body: { runId: 'r-issue' },
    });
    expect(again.type === 'token.issued.v1' && again.body).toMatchObject({ accessor, created: false });
    expect(feed.seen.filter(tokenEvent('r-issue', 'issued'))).toHaveLength(1);
  });

  it('renews the run token 30 minutes after issue and the lookup shows the full TTL again', async () => {
    await publishRunEvent(env.client, { runId: 'r-renew', event: 'run-accepted', governance: governance() });
    const issued = await feed.next(tokenEvent('r-renew', 'issued'));
    const accessor = issued.type === 'token.event.v1' ? issued.body.accessor! : '';
    env.clock.advance(20 * MINUTE_MS);
    expect((await vault.lookupAccessor(accessor)).ttlS).toBe(100 * 60);
    env.clock.advance(10 * MINUTE_MS);
    const renewed = await feed.next(tokenEvent('r-renew', 'renewed'));
    expect(renewed.type === 'token.event.v1' && renewed.body.ttlMs).toBe(2 * HOUR_MS);
    expect((await vault.lookupAccessor(accessor)).ttlS).toBe(2 * 3600);
    const state = await env.client.ask(serviceSubject('token-authority'), {
      type: 'token.status.v1',
      body: { accessor },
    });
    expect(state.type === 'token.state.v1' && state.body).toMatchObject({
      runId: 'r-renew',
      state: 'live',
      renewals: 1,
    });
  });

  it('stops renewing at the explicit max TTL and reports it', async () => {
    const start = env.clock.now();
    await publishRunEvent(env.client, {
      runId: 'r-max',
      event: 'run-accepted',
      governance: governance({
        token: { ttlMs: 2 * HOUR_MS, renewEveryMs: 30 * MINUTE_MS, maxTtlMs: 3 * HOUR_MS },
      }),
    });
    const issued = await feed.next(tokenEvent('r-max', 'issued'));
    const accessor = issued.type === 'token.event.v1' ? issued.body.accessor! : '';
    env.clock.advance(30 * MINUTE_MS);
    await waitForRenewals('r-max', 1);
    env.clock.advance(30 * MINUTE_MS); // now + 2 h reaches the 3 h max: the last renewal, capped
    await feed.next(tokenEvent('r-max', 'max-ttl-reached'));
    const info = await vault.lookupAccessor(accessor);
    expect(Math.abs(Date.parse(info.expireTime!) - (start + 3 * HOUR_MS))).toBeLessThan(1_000);
    env.clock.advance(30 * MINUTE_MS);
    const pass = await env.client.ask(serviceSubject('token-renewer'), { type: 'token.renew.v1', body: {} });
    expect(pass.type === 'token.renewed.v1' && pass.body.runs.map((r) => r.runId)).not.toContain('r-max');
    const state = await env.client.ask(serviceSubject('token-authority'), {
      type: 'token.status.v1',
      body: { runId: 'r-max' },
    });
    expect(state.type === 'token.state.v1' && state.body).toMatchObject({ state: 'at-max-ttl', renewals: 2 });
  });

  it('revokes the run token when the run ends, after which a lookup fails', async () => {
    await publishRunEvent(env.client, { runId: 'r-end', event: 'run-accepted', governance: governance() });
    const issued = await feed.next(tokenEvent('r-end', 'issued'));
    const accessor = issued.type === 'token.event.v1' ? issued.body.accessor! : '';
    await publishRunEvent(env.client, { runId: 'r-end', event: 'run-succeeded' });
    const revoked = await feed.next(tokenEvent('r-end', 'revoked'));
    expect(revoked.type === 'token.event.v1' && revoked.body.reason).toBe('run-succeeded');
    await expect(vault.lookupAccessor(accessor)).rejects.toBeInstanceOf(TokenRevokedError);
  });

  it('delivers a child token scoped to the stage tier only to its agent inbox, response-wrapped and single-use, and revokes it with the parent', async () => {
    const inbox = collect(env.client, actorInbox('agent', 'ag-child'));
    const inboxBytes: string[] = [];
    env.client.subscribeRaw(actorInbox('agent', 'ag-child'), (m) =>
      inboxBytes.push(Buffer.from(m.data).toString('latin1')),
    );
    const other = collect(env.client, actorInbox('agent', 'ag-other'));
    await inbox.ready();
    await publishRunEvent(env.client, {
      runId: 'r-child',
      event: 'run-accepted',
      governance: governance({ tiers: ['T0', 'T1', 'T2'], stageTiers: { build: 'T1' } }),
    });
    await publishRunEvent(env.client, {
      runId: 'r-child',
      event: 'stage-accepted',
      stageId: 'build',
      attempt: 1,
      agentId: 'ag-child',
    });
    const cred = await inbox.next((e) => e.type === 'agent.credentials.v2');
    if (cred.type !== 'agent.credentials.v2') throw new Error('no credentials');
    // The bus carries a wrapping token only; the agent unwraps the child token once, in Vault.
    const raw = inboxBytes.find((m) => m.includes(cred.body.wrappingToken)) ?? '';
    expect(raw).not.toBe('');
    const child = await unwrapSecret(env.vault.addr, cred.body.wrappingToken);
    const token = String(child.token);
    expect(child.accessor).toBe(cred.body.accessor);
    expect(raw).not.toContain(token);
    // An eavesdropper who read the message holds a used wrapping token: it unwraps nothing.
    await expect(unwrapSecret(env.vault.addr, cred.body.wrappingToken)).rejects.toThrow(/400/);
    const info = await vault.lookupSelf(token);
    expect(info.policies).toEqual(['agov-tier-t0', 'agov-tier-t1', 'default']);
    expect(info.meta).toMatchObject({ run_id: 'r-child', agent_id: 'ag-child' });
    const childEvent = await feed.next(tokenEvent('r-child', 'child-issued'));
    expect(childEvent.type === 'token.event.v1' && childEvent.body.accessor).toBe(cred.body.accessor);

    await publishRunEvent(env.client, { runId: 'r-child', event: 'run-failed' });
    await feed.next(tokenEvent('r-child', 'revoked'));
    await expect(vault.lookupSelf(token)).rejects.toBeInstanceOf(TokenRevokedError);
    await env.client.flush();
    expect(other.seen).toHaveLength(0);
    expect(published.some((p) => p.includes(token) || p.includes(cred.body.wrappingToken))).toBe(false);
    inbox.close();
    other.close();
  });

  it("renews a run's child tokens with the run token: the child's TTL is full again after the run's renewal", async () => {
    const inbox = collect(env.client, actorInbox('agent', 'ag-renew-child'));
    await inbox.ready();
    await publishRunEvent(env.client, {
      runId: 'r-renew-child',
      event: 'run-accepted',
      governance: governance(),
    });
    await publishRunEvent(env.client, {
      runId: 'r-renew-child',
      event: 'stage-accepted',
      stageId: 'build',
      attempt: 1,
      agentId: 'ag-renew-child',
    });
    const cred = await inbox.next((e) => e.type === 'agent.credentials.v2');
    if (cred.type !== 'agent.credentials.v2') throw new Error('no credentials');
    const renewalsBefore = feed.seen.filter(tokenEvent('r-renew-child', 'renewed')).length;
    env.clock.advance(20 * MINUTE_MS);
    const aged = (await vault.lookupAccessor(cred.body.accessor)).ttlS;
    env.clock.advance(10 * MINUTE_MS);
    await waitForRenewals('r-renew-child', renewalsBefore + 1);
    // The run's `renewed` event is published before its children are renewed: poll the child's lease.
    const renewed = await waitFor(
      'the child token renewed',
      async () => {
        const ttl = (await vault.lookupAccessor(cred.body.accessor)).ttlS;
        return ttl > aged ? ttl : undefined;
      },
      5_000,
    );
    expect(renewed).toBe(2 * 3600);
    inbox.close();
  });

  it('never revives a revoked token: a run revoked before its renewal is due stays revoked and is not renewed', async () => {
    await publishRunEvent(env.client, { runId: 'r-dead', event: 'run-accepted', governance: governance() });
    await feed.next(tokenEvent('r-dead', 'issued'));
    await publishRunEvent(env.client, { runId: 'r-dead', event: 'run-cancelled' });
    await feed.next(tokenEvent('r-dead', 'revoked'));
    env.clock.advance(30 * MINUTE_MS);
    const pass = await env.client.ask(serviceSubject('token-renewer'), { type: 'token.renew.v1', body: {} });
    expect(pass.type === 'token.renewed.v1' && pass.body.runs.map((r) => r.runId)).not.toContain('r-dead');
    const state = await env.client.ask(serviceSubject('token-authority'), {
      type: 'token.status.v1',
      body: { runId: 'r-dead' },
    });
    expect(state.type === 'token.state.v1' && state.body).toMatchObject({ state: 'revoked', renewals: 0 });
    expect(feed.seen.filter(tokenEvent('r-dead', 'renewed'))).toHaveLength(0);
  });

  it('refuses a violation report from an unverified reporter with ForbiddenError and audits the refusal', async () => {
    await publishRunEvent(env.client, { runId: 'r-viol', event: 'run-accepted', governance: governance() });
    await publishRunEvent(env.client, {
      runId: 'r-viol',
      event: 'stage-accepted',
      stageId: 's',
      attempt: 1,
      agentId: 'ag-viol',
    });
    await feed.next(tokenEvent('r-viol', 'child-issued'));
    const report = {
      type: 'violation.report.v1',
      body: {
        runId: 'r-viol',
        agentId: 'ag-viol',
        reporterTier: 'T2',
        policy: 'no-network',
        description: 'socket',
      },
    } as const;
    await expect(env.client.ask(serviceSubject('token-authority'), report)).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    await feed.next(tokenEvent('r-viol', 'violation-refused'));
    const state = await env.client.ask(serviceSubject('token-authority'), {
      type: 'token.status.v1',
      body: { runId: 'r-viol' },
    });
    expect(state.type === 'token.state.v1' && state.body.state).toBe('live');
  });

  it('accepts a violation report from a verified T2 reporter: contains the run, revokes the token and quarantines only the agent that committed it', async () => {
    const agentInbox = collect(env.client, actorInbox('agent', 'ag-viol'));
    const bystanderInbox = collect(env.client, actorInbox('agent', 'ag-bystander'));
    const contain = collect(env.client, containSubject('r-viol'));
    await Promise.all([agentInbox.ready(), bystanderInbox.ready(), contain.ready()]);
    // Another agent worked on the run too: the violation is not its doing.
    await publishRunEvent(env.client, {
      runId: 'r-viol',
      event: 'stage-accepted',
      stageId: 't',
      attempt: 1,
      agentId: 'ag-bystander',
    });
    await consumerDrained(env.client, 'token-authority');
    // The reporter is an agent whose own inbox vouches for its tier.
    const warden = await Bus.connect({ servers: env.natsUrl, name: actorInbox('agent', 'warden') });
    serve(warden, actorInbox('agent', 'warden'), () => ({
      type: 'agent.state.v1',
      body: { agentId: 'warden', state: 'idle', tier: 'T2' },
    }));
    await warden.flush();
    const reply = await warden.ask(serviceSubject('token-authority'), {
      type: 'violation.report.v1',
      body: {
        runId: 'r-viol',
        agentId: 'ag-viol',
        reporterTier: 'T2',
        policy: 'no-network',
        description: 'socket',
      },
    });
    expect(reply.type === 'token.revoked.v1' && reply.body).toMatchObject({
      runId: 'r-viol',
      revoked: true,
      suspendedAgents: ['ag-viol'],
    });
    const order = await contain.next((e) => e.type === 'run.contain.v1');
    expect(order.type === 'run.contain.v1' && order.body).toMatchObject({
      runId: 'r-viol',
      cause: 'policy-violation',
      agentIds: ['ag-viol'],
    });
    const cmd = await agentInbox.next((e) => e.type === 'agent.command.v1');
    expect(cmd.type === 'agent.command.v1' && cmd.body).toMatchObject({
      command: 'quarantine',
      byTier: 'T2',
      by: 'token-authority',
    });
    await feed.next(tokenEvent('r-viol', 'violation-accepted'));
    const suspended = await feed.next(tokenEvent('r-viol', 'agents-suspended'));
    expect(suspended.type === 'token.event.v1' && suspended.body.agentIds).toEqual(['ag-viol']);
    // The bystander got no command: one round trip through its inbox's subject shows nothing queued.
    await env.client.flush();
    expect(bystanderInbox.seen.filter((e) => e.type === 'agent.command.v1')).toEqual([]);
    await warden.close();
    agentInbox.close();
    bystanderInbox.close();
    contain.close();
  });

  it('accepts a violation report from an allowlisted reporter whatever its tier', async () => {
    await publishRunEvent(env.client, { runId: 'r-allow', event: 'run-accepted', governance: governance() });
    await feed.next(tokenEvent('r-allow', 'issued'));
    const auditor = await Bus.connect({ servers: env.natsUrl, name: 'auditor-1' });
    const reply = await auditor.ask(serviceSubject('token-authority'), {
      type: 'violation.report.v1',
      body: { runId: 'r-allow', policy: 'pii', description: 'leaked an address' },
    });
    expect(reply.type === 'token.revoked.v1' && reply.body.reason).toBe('policy-violation: pii');
    await auditor.close();
  });

  it('misses no run event while the token authority is down: it resumes from its durable consumer', async () => {
    await publishRunEvent(env.client, { runId: 'r-before', event: 'run-accepted', governance: governance() });
    await feed.next(tokenEvent('r-before', 'issued'));
    await consumerDrained(env.client, 'token-authority');
    await authority.kill();

    const inbox = collect(env.client, actorInbox('agent', 'ag-restart'));
    await inbox.ready();
    await publishRunEvent(env.client, { runId: 'r-during', event: 'run-accepted', governance: governance() });
    await publishRunEvent(env.client, {
      runId: 'r-before',
      event: 'stage-accepted',
      stageId: 's',
      attempt: 1,
      agentId: 'ag-restart',
    });

    authority = await startAuthority();
    await feed.next(tokenEvent('r-during', 'issued'));
    const cred = await inbox.next((e) => e.type === 'agent.credentials.v2');
    if (cred.type !== 'agent.credentials.v2') throw new Error('no credentials');
    const token = String((await unwrapSecret(env.vault.addr, cred.body.wrappingToken)).token);
    expect(await vault.lookupSelf(token)).toMatchObject({ accessor: cred.body.accessor });

    // The run token's secret died with the old incarnation: the child is revoked explicitly with the run.
    await publishRunEvent(env.client, { runId: 'r-before', event: 'run-cancelled' });
    await feed.next(tokenEvent('r-before', 'revoked'));
    await expect(vault.lookupSelf(token)).rejects.toBeInstanceOf(TokenRevokedError);
    inbox.close();
  });

  it('loses no renewal across a renewer restart: the schedule lives in Redis and the next incarnation renews when due', async () => {
    await publishRunEvent(env.client, {
      runId: 'r-renewer-restart',
      event: 'run-accepted',
      governance: governance(),
    });
    const issued = await feed.next(tokenEvent('r-renewer-restart', 'issued'));
    const accessor = issued.type === 'token.event.v1' ? issued.body.accessor! : '';
    await renewer.kill();
    renewer = await runActor(tokenRenewerKind, {
      id: 'tr-2',
      bus: { servers: env.natsUrl },
      clock: env.clock,
      args: env.args,
    });
    env.clock.advance(30 * MINUTE_MS);
    await waitForRenewals('r-renewer-restart', 1);
    expect((await vault.lookupAccessor(accessor)).ttlS).toBe(2 * 3600);
  });
});

async function waitForRenewals(runId: string, n: number) {
  await feed.next(
    (e) =>
      e.type === 'token.event.v1' &&
      e.body.runId === runId &&
      e.body.action === 'renewed' &&
      feed.seen.filter(tokenEvent(runId, 'renewed')).length >= n,
  );
}
