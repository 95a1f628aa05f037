/**
 * Context services as an attacker sees them (issue #11): memory, work status and checkpoints take
 * writes, deletes and restores only on `gov.ctx.<kind>.<tier>.<principal>`, where the broker vouches
 * for tier and principal. Attackers with no credential, an observer's, a T0 agent's and a T1 agent's
 * try to delete memory, delete a work target and restore a checkpoint — at their own tier, at T2 under
 * their own name, in the operator's name, on the service subject with a body claiming T2, and (T1) on
 * their own claim-check subject. Each is refused, and nothing changed: the blob, the target and the
 * quarantine the checkpoint would undo are all where they were, and no restore was recorded.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentDirectoryKind } from '../../actors/agent-directory.ts';
import { checkpointKind, memoryKind, RestoreLog, workStatusKind } from '../../actors/context/index.ts';
import { runActor } from '../../actors/runtime/index.ts';
import { type Bus, ensureStreams } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { type Principal, principalName } from '../../protocols/permissions.ts';
import { ACTOR_KIND, contextSubject, memoryPutSubject, serviceSubject } from '../../protocols/index.ts';
import { decodeRaw } from '../../protocols/codec.ts';
import { connectWatched, TestServers, testBus } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let client: Bus;
let blobId: string;
let checkpointId: string;

beforeAll(async () => {
  nats = await servers.nats();
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
  await ensureStreams(client);
  const bus = { servers: nats.url };
  const handles = [
    await runActor(agentDirectoryKind, { id: 'directory-1', bus, heartbeatMs: 100 }),
    await runActor(memoryKind, { id: 'memory-1', bus }),
    await runActor(workStatusKind, { id: 'status-1', bus, args: { baseDir: servers.tempDir('agov-ac-') } }),
    await runActor(checkpointKind, { id: 'checkpoint-1', bus, args: { everyMs: 0, sourceTimeoutMs: 5_000 } }),
  ];
  servers.onStop(async () => {
    for (const h of handles) await h.stop('test over').catch(() => undefined);
  });
  const op = (kind: string) => contextSubject(kind, 'T2', client.principal());
  const put = await client.ask(op(ACTOR_KIND.memory), {
    type: 'memory.put.v1',
    body: { content: 'the victim blob', tags: ['victim'] },
  });
  blobId = (put.body as { id: string }).id;
  await client.ask(op(ACTOR_KIND.workStatus), {
    type: 'status.update.v1',
    body: { target: 'service:victim', phase: 'in-progress', progress: 40 },
  });
  const cp = await client.ask(
    op(ACTOR_KIND.checkpoint),
    { type: 'checkpoint.take.v1', body: {} },
    {
      timeoutMs: 15_000,
    },
  );
  checkpointId = (cp.body as { id: string }).id;
}, 60_000);
afterAll(() => servers.stopAll());

const envelope = (type: string, body: unknown) =>
  JSON.stringify({ sv: 1, type, id: randomUUID(), ts: Date.now(), from: 'gov.actor.client.ops', body });

async function as(principal: Principal): Promise<{ nc: NatsConnection; violations: string[] }> {
  return connectWatched(nats, principal);
}

/** What the system holds that the attacks try to change. */
async function state(): Promise<unknown> {
  const blob = await client.ask(serviceSubject(ACTOR_KIND.memory), {
    type: 'memory.get.v1',
    body: { id: blobId, summaryOnly: true },
  });
  const stats = await client.ask(serviceSubject(ACTOR_KIND.memory), { type: 'memory.stats.v1', body: {} });
  const target = await client.ask(serviceSubject(ACTOR_KIND.workStatus), {
    type: 'status.query.v1',
    body: { target: 'service:victim' },
  });
  const timeline = await client.ask(serviceSubject(ACTOR_KIND.checkpoint), {
    type: 'checkpoint.list.v1',
    body: {},
  });
  const restores = await (await RestoreLog.open(client)).all();
  return { blob: blob.body, stats: stats.body, target: target.body, timeline: timeline.body, restores };
}

const ATTACKERS: Array<[string, Principal]> = [
  ['an observer', { role: 'observer', name: 'eve' }],
  ['a T0 agent', { role: 'agent', id: 'mallory-0', tier: 'T0' }],
  ['a T1 agent', { role: 'agent', id: 'mallory-1', tier: 'T1' }],
];

/** Each forbidden write: the message, and the context service it is for. */
const WRITES = (): Array<[string, string, string]> => [
  ['delete the victim blob', ACTOR_KIND.memory, envelope('memory.delete.v1', { id: blobId, byTier: 'T2' })],
  [
    'delete the victim work target',
    ACTOR_KIND.workStatus,
    envelope('status.delete.v1', { target: 'service:victim', byTier: 'T2' }),
  ],
  [
    'restore a checkpoint',
    ACTOR_KIND.checkpoint,
    envelope('checkpoint.restore.v1', { id: checkpointId, byTier: 'T2', by: 'client-ops' }),
  ],
];

describe('context services refuse attackers', () => {
  it('refuses a connection with no credential at all', async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/authoriz/i);
  });

  for (const [who, principal] of ATTACKERS)
    it(`refuses ${who} deleting memory, deleting work status and restoring a checkpoint on every subject, a body claiming T2 included, and nothing changes`, async () => {
      const before = await state();
      const { nc, violations } = await as(principal);
      const self = principalName(principal);
      const tier = principal.role === 'agent' ? principal.tier : 'T0';
      const subjects: string[] = [];
      try {
        for (const [, kind, payload] of WRITES()) {
          for (const subject of [
            contextSubject(kind, 'T2', self),
            contextSubject(kind, tier, self),
            contextSubject(kind, 'T2', 'client-ops'),
            serviceSubject(kind),
          ]) {
            subjects.push(subject);
            nc.publish(subject, payload, { reply: `${u(principal)}.x` });
          }
        }
        await nc.flush();
        for (const subject of new Set(subjects))
          await expect
            .poll(() => violations.join('\n'), { timeout: 10_000 })
            .toContain(`Permissions Violation for Publish to "${subject}"`);
      } finally {
        await nc.close();
      }
      expect(await state()).toEqual(before);
    });

  it('refuses a T1 agent a delete on its own claim-check subject (only memory.put.v1 is taken there), and nothing changes', async () => {
    const before = await state();
    const { nc } = await as({ role: 'agent', id: 'mallory-1', tier: 'T1' });
    try {
      const reply = await nc.request(
        memoryPutSubject('T1', 'mallory-1'),
        envelope('memory.delete.v1', { id: blobId, byTier: 'T2' }),
        { timeout: 10_000 },
      );
      // A refusal travels as typed error headers with no body (bus/bus-wire.ts).
      expect(reply.headers?.get('Gov-Error-Code')).toBe('GOV_ERR_INVALID_MESSAGE');
      expect(reply.data.length).toBe(0);
    } finally {
      await nc.close();
    }
    expect(await state()).toEqual(before);
  });

  it("records a T1 agent's claim-check put under the agent's own name at its own tier, whatever the body claims", async () => {
    const { nc } = await as({ role: 'agent', id: 'mallory-1', tier: 'T1' });
    try {
      const reply = await nc.request(
        memoryPutSubject('T1', 'mallory-1'),
        envelope('memory.put.v1', { content: 'mine', byTier: 'T2', agentId: 'victim-1' }),
        { timeout: 10_000 },
      );
      const answer = decodeRaw(reply.data) as { type: string; body: { author?: string; agentId?: string } };
      expect(answer.type).toBe('memory.entry.v1');
      expect(answer.body).toMatchObject({ author: 'agent-mallory-1', agentId: 'mallory-1' });
    } finally {
      await nc.close();
    }
  });
});

/** The attacker's own reply inbox (its private `_INBOX.<name>` subtree). */
function u(p: Principal): string {
  return `_INBOX.${principalName(p)}`;
}
