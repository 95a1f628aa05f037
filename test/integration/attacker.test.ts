/**
 * The bus as an attacker sees it (issue #11): a whole system runs; attackers with no credential, with
 * an observer's, with a T0 agent's and with a T1 agent's try what an open bus allowed — read child
 * tokens, forge audit events, ask for tokens, promote themselves, cancel runs, join queue groups,
 * rewrite the runs bucket, stop the root supervisor. The broker refuses each (a permission violation
 * or a refused connection) and the system is unchanged afterwards.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../actors/ledger/index.ts';
import type { Principal } from '../../protocols/permissions.ts';
import { allChildren } from '../../supervisors/supervisor-tree.ts';
import { parseTeams, type RunningSystem, startSystem } from '../../system/index.ts';
import { connectWatched, waitFor } from '../harness/index.ts';

const TEAMS = `
teams:
  - id: victims
    members:
      - { id: victim-t2, tier: T2, role: lead }
`;

let sys: RunningSystem;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agov-attacker-'));
  sys = await startSystem({
    dataDir: dir,
    teams: parseTeams(TEAMS, 'attacker-teams'),
    serviceArgs: { gateway: { port: 0 } },
    localApiKeys: false,
  });
  await waitFor(
    'every actor running',
    async () => allChildren(await sys.tree()).every((c) => c.status === 'running'),
    60_000,
  );
}, 120_000);

afterAll(async () => {
  await sys?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** A connection as `principal`, collecting the permission violations the server reports. */
async function as(principal: Principal): Promise<{ nc: NatsConnection; violations: string[] }> {
  return connectWatched(sys.services.embedded.nats!, principal);
}

const envelope = (type: string, from: string, body: unknown) =>
  JSON.stringify({ sv: 1, type, id: randomUUID(), ts: Date.now(), from, body });

/** The agent directory's view of the victim agent. */
async function victimState(): Promise<
  { agentId: string; tier: string; state: string; restarts: number } | undefined
> {
  const r = await sys.client.ask('gov.svc.agent-directory', {
    type: 'agent.status.v1',
    body: { agentId: 'victim-t2' },
  } as never);
  return (r.body as { agents: Array<{ agentId: string; tier: string; state: string; restarts: number }> })
    .agents[0];
}

/** Publishes and expects the broker to answer with a publish violation for exactly that subject. */
async function refusedPublish(who: Principal, subject: string, payload: string): Promise<void> {
  const { nc, violations } = await as(who);
  try {
    nc.publish(subject, payload);
    await nc.flush();
    await expect
      .poll(() => violations.join('\n'), { timeout: 10_000 })
      .toContain(`Permissions Violation for Publish to "${subject}"`);
  } finally {
    await nc.close();
  }
}

async function refusedSubscribe(who: Principal, subject: string, queue?: string): Promise<void> {
  const { nc, violations } = await as(who);
  try {
    nc.subscribe(subject, { ...(queue ? { queue } : {}), callback: () => {} });
    await nc.flush();
    await expect
      .poll(() => violations.join('\n'), { timeout: 10_000 })
      .toContain(`Permissions Violation for Subscription to "${subject}"`);
  } finally {
    await nc.close();
  }
}

const ATTACKERS: Array<[string, Principal]> = [
  ['an observer', { role: 'observer', name: 'eve' }],
  ['a T0 agent', { role: 'agent', id: 'mallory-0', tier: 'T0' }],
  ['a T1 agent', { role: 'agent', id: 'mallory-1', tier: 'T1' }],
];

/** What an open bus allowed (issue #11), as publishes: subject and a genuine-looking message. */
const FORBIDDEN_PUBLISHES: Array<[string, string, string]> = [
  [
    'forge an audit event the ledger would append as genuine',
    'gov.audit.token',
    envelope('token.issued.v1', 'gov.actor.token-authority.token-authority-1', { runId: 'r-x' }),
  ],
  [
    'ask the token authority for a run token with policy root',
    'gov.svc.token-authority',
    envelope('token.request.v1', 'gov.actor.agent.victim-t2', { runId: 'r-x', policies: ['root'] }),
  ],
  [
    'forge a stage-accepted to get a child token delivered',
    'gov.actor.token-authority.token-authority-1',
    envelope('run.stage.accepted.v1', 'gov.actor.orchestrator.orchestrator-1', { runId: 'r-x' }),
  ],
  [
    'cancel runs through the orchestrator',
    'gov.svc.orchestrator',
    envelope('run.cancel.v1', 'gov.actor.gateway.gateway-1', { runId: 'r-x' }),
  ],
  [
    'report fake errors until a budget breaches',
    'gov.errors.r-x',
    envelope('budget.report.v1', 'gov.actor.agent.victim-t2', { runId: 'r-x', outcome: 'error' }),
  ],
  [
    'promote an agent to T2 with agent.command.v1 byTier T2',
    'gov.actor.agent.victim-t2',
    envelope('agent.command.v1', 'gov.actor.gateway.gateway-1', { command: 'PROMOTE', byTier: 'T2' }),
  ],
  [
    'stop the whole system with actor.stop.v1 to the root supervisor',
    'gov.actor.supervisor.root',
    envelope('actor.stop.v1', 'gov.actor.supervisor.root', {}),
  ],
  [
    'fake the exit of a service so its supervisor restarts it',
    'gov.sys.exit.orchestrator.orchestrator-1',
    envelope('actor.exit.v1', 'gov.actor.orchestrator.orchestrator-1', { reason: 'crash' }),
  ],
  [
    'register as a T2 agent (the registration subject carries the credential’s tier and id)',
    'gov.agents.register.T2.victim-t2',
    envelope('agent.register.v1', 'gov.actor.agent.victim-t2', {
      agentId: 'victim-t2',
      state: 'idle',
      tier: 'T2',
      restarts: 0,
    }),
  ],
  ['rewrite a run in the AGOV_RUNS KV bucket', '$KV.AGOV_RUNS.r-x', '{"runId":"r-x"}'],
  ['delete the AUDIT stream through the JetStream API', '$JS.API.STREAM.DELETE.AUDIT', ''],
  ['answer inside another connection’s reply inbox', '_INBOX.admin-x.1', 'forged reply'],
];

/** What an open bus allowed, as subscriptions. */
const FORBIDDEN_SUBSCRIPTIONS: Array<[string, string, string?]> = [
  ['read everything', '>'],
  ['read an agent’s inbox, where its child tokens and commands arrive', 'gov.actor.agent.victim-t2'],
  ['read every reply', '_INBOX.>'],
  [
    'join the agent directory’s queue group and answer its requests',
    'gov.svc.agent-directory',
    'q-agent-directory',
  ],
  ['join the token authority’s queue group', 'gov.svc.token-authority', 'q-token-authority'],
  ['read the audit stream as it is written', 'gov.audit.>'],
];

describe('an attacker on the bus', () => {
  it('with no credential is refused at connect', async () => {
    await expect(connect({ servers: sys.natsUrl, reconnect: false })).rejects.toThrow(
      /Authorization Violation/i,
    );
  });

  for (const [who, principal] of ATTACKERS) {
    for (const [what, subject, payload] of FORBIDDEN_PUBLISHES) {
      it(`as ${who}, cannot ${what} (${subject})`, () => refusedPublish(principal, subject, payload));
    }
    for (const [what, subject, queue] of FORBIDDEN_SUBSCRIPTIONS) {
      it(`as ${who}, cannot ${what} (${subject})`, () => refusedSubscribe(principal, subject, queue));
    }
  }

  it('as an observer, cannot publish even on the feed or announce itself as an agent', async () => {
    const eve: Principal = { role: 'observer', name: 'eve' };
    await refusedPublish(eve, 'gov.obs.run.r-x', '{}');
    await refusedPublish(eve, 'gov.agents.register', envelope('agent.register.v1', 'x', { tier: 'T2' }));
  });

  it('as a T0 agent, cannot heartbeat or publish its feed as another agent', async () => {
    const mallory: Principal = { role: 'agent', id: 'mallory-0', tier: 'T0' };
    await refusedPublish(mallory, 'gov.sys.hb.agent.victim-t2', '{}');
    await refusedPublish(mallory, 'gov.obs.agent.victim-t2', '{}');
  });

  it('as a T0 agent, cannot speak for a T2 agent on its own subjects: the directory refuses it, visibly, and keeps the victim as it was', async () => {
    const before = await victimState();
    const observer = await as({ role: 'observer', name: 'dlq-watch' });
    const refused: string[] = [];
    observer.nc.subscribe('gov.obs.dlq.>', {
      callback: (_e, m) => {
        refused.push(m.string());
      },
    });
    await observer.nc.flush();
    const { nc, violations } = await as({ role: 'agent', id: 'mallory-0', tier: 'T0' });
    const forged = { agentId: 'victim-t2', state: 'quarantined', tier: 'T2', restarts: 9 };
    // Its own heartbeat subject, a body speaking for the victim.
    nc.publish(
      'gov.sys.hb.agent.mallory-0',
      envelope('actor.heartbeat.v1', 'gov.actor.agent.mallory-0', {
        actorId: 'victim-t2',
        kind: 'agent',
        seq: 1,
        pid: 1,
        host: 'x',
        uptimeMs: 1,
        mailboxDepth: 0,
        processed: 0,
        intervalMs: 1000,
        status: forged,
      }),
    );
    // Its own registration subject (its tier, its id), a body registering the victim.
    nc.publish(
      'gov.agents.register.T0.mallory-0',
      envelope('agent.register.v1', 'gov.actor.agent.mallory-0', forged),
    );
    await nc.flush();
    await expect
      .poll(() => refused.filter((r) => r.includes('GOV_ERR_FORBIDDEN')).length, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(2);
    expect(violations).toEqual([]);
    expect(await victimState()).toMatchObject({
      agentId: 'victim-t2',
      tier: before?.tier,
      restarts: before?.restarts,
    });
    expect((await victimState())?.state).not.toBe('quarantined');
    await nc.close();
    await observer.nc.close();
  });

  for (const tier of ['T0', 'T1'] as const) {
    it(`as a ${tier} agent, appends audit events only as itself: as another agent, a service or no one the broker refuses them and the ledger never holds them`, async () => {
      const id = `mallory-audit-${tier.toLowerCase()}`;
      const { nc, violations } = await as({ role: 'agent', id, tier });
      const transition = (agentId: string) => ({
        sv: 1,
        type: 'agent.transition.v1',
        id: randomUUID(),
        ts: Date.now(),
        from: `gov.actor.agent.${agentId}`,
        body: { agentId, from: 'idle', to: 'suspended', event: 'SUSPEND', tier: 'T2' },
      });
      const forged: Array<[string, ReturnType<typeof transition>]> = [
        ['gov.audit.agent.agent-victim-t2', transition('victim-t2')],
        ['gov.audit.token.token-authority-token-authority', transition('victim-t2')],
        ['gov.audit.run.orchestrator-orchestrator', transition('victim-t2')],
        ['gov.audit.agent', transition('victim-t2')],
      ];
      const own = transition(id);
      try {
        for (const [subject, env] of forged) nc.publish(subject, JSON.stringify(env));
        // Its own subject is granted: the premise that a refused publish would otherwise be appended.
        nc.publish(`gov.audit.agent.agent-${id}`, JSON.stringify(own));
        await nc.flush();
        for (const [subject] of forged)
          await expect
            .poll(() => violations.join('\n'), { timeout: 10_000 })
            .toContain(`Permissions Violation for Publish to "${subject}"`);
        expect(violations.join('\n')).not.toContain(`gov.audit.agent.agent-${id}`);
        const dbPath = join(sys.dataDir, 'ledger.sqlite');
        const entry = await waitFor('its own audit event in the ledger', () => {
          const store = LedgerStore.open({ path: dbPath, readonly: true });
          try {
            return store.entryById(own.id);
          } finally {
            store.close();
          }
        });
        expect(entry.sender).toBe(`agent-${id}`);
        // Published before it on the same connection: had the broker let one through, it would be here.
        const store = LedgerStore.open({ path: dbPath, readonly: true });
        try {
          for (const [, env] of forged) expect(store.entryById(env.id)).toBeUndefined();
        } finally {
          store.close();
        }
      } finally {
        await nc.close();
      }
    });
  }

  it('control: what the same credentials are granted goes through (the checks above can fail)', async () => {
    const { nc, violations } = await as({ role: 'agent', id: 'mallory-0', tier: 'T0' });
    nc.subscribe('gov.actor.agent.mallory-0', { callback: () => {} });
    nc.publish('gov.sys.hb.agent.mallory-0', '{}');
    await nc.flush();
    const observer = await as({ role: 'observer', name: 'eve' });
    // The whole feed is granted; other events (a witness cosigning, say) may come first.
    const seen = new Promise<string>((resolve) =>
      observer.nc.subscribe('gov.obs.>', {
        callback: (_e, m) => {
          if (m.subject === 'gov.obs.run.control') resolve(m.subject);
        },
      }),
    );
    await observer.nc.flush();
    sys.client.emit(['run', 'control'], { type: 'demo.echoed.v1', body: { text: 'x' } } as never);
    expect(await seen).toBe('gov.obs.run.control');
    expect(violations).toEqual([]);
    expect(observer.violations).toEqual([]);
    await nc.close();
    await observer.nc.close();
  });

  // Regression: the orchestrator's grant lacked its results subject, so deployed orchestrators never heard
  // reports as published (the fast path of report-intake.ts) and waited for the RESULTS stream's copy.
  it("an orchestrator's credential hears agents' reports as published; an agent's cannot listen there", async () => {
    const orch = await as({ role: 'actor', kind: 'orchestrator', id: 'orch-fast' });
    const heard = new Promise<string>((resolve) =>
      orch.nc.subscribe('gov.results.orchestrator.*', { max: 1, callback: (_e, m) => resolve(m.subject) }),
    );
    await orch.nc.flush();
    const reporter = await as({ role: 'agent', id: 'reporter-1', tier: 'T1' });
    // Not an envelope: the real orchestrator dead-letters its stream copy and changes nothing.
    reporter.nc.publish('gov.results.orchestrator.reporter-1', 'x');
    await reporter.nc.flush();
    expect(await heard).toBe('gov.results.orchestrator.reporter-1');
    expect(orch.violations).toEqual([]);
    await reporter.nc.close();
    await orch.nc.close();
    await refusedSubscribe({ role: 'agent', id: 'eaves-t2', tier: 'T2' }, 'gov.results.orchestrator.*');
  });

  it('after every attempt, the system is unchanged: every actor running, never restarted, no run', async () => {
    // The deep tree asks each supervisor in turn; on a loaded machine a subtree may answer late.
    const children = await waitFor('the whole tree', async () => {
      const all = allChildren(await sys.tree());
      return all.length > 5 ? all : undefined;
    });
    expect(children.filter((c) => c.status !== 'running').map((c) => c.id)).toEqual([]);
    expect(children.filter((c) => c.restartCount > 0).map((c) => c.id)).toEqual([]);
    const runs = await sys.client.ask('gov.svc.orchestrator', { type: 'run.list.v1', body: {} } as never);
    expect((runs.body as { runs: unknown[] }).runs).toEqual([]);
  });
});
