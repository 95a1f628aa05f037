/**
 * Recovery after reset (docs/context.md): start a whole system (`agov up`, embedded services), run
 * work, take a checkpoint, SIGKILL every process of the system (its process group: agov up, the
 * embedded nats-server, redis-server and Vault, every actor process), start it again on the same data
 * folder and follow the four steps — load the checkpoint, the combined report, recent memory, resume
 * work — to the state that was there.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Bus } from '../../bus/index.ts';
import { ACTOR_KIND, serviceSubject } from '../../protocols/index.ts';
import { AgovSystem, TestServers, waitFor } from '../harness/index.ts';

const servers = new TestServers();
const system = new AgovSystem(
  servers,
  'agov-recovery-',
  'teams:\n  - id: crew\n    strategy: one_for_one\n    members:\n      - { id: rec-worker-1, tier: T1, role: executor }\n',
);

afterAll(async () => {
  await system.stop();
  await servers.stopAll();
});

describe('recovery after reset', () => {
  it('comes back to the checkpointed state after every process is SIGKILLed, following the four documented steps', async () => {
    const first = await system.up();
    const bus = await Bus.connect({ servers: first.natsUrl, name: 'recovery-test', askTimeoutMs: 20_000 });
    // Work: a run that finishes, a work target, a blob in memory.
    const accepted = await bus.ask(serviceSubject(ACTOR_KIND.orchestrator), {
      type: 'run.request.v1',
      body: { yaml: 'name: rec\nversion: 1\nstages:\n  - { id: a, task: { kind: noop } }\n' },
    });
    const runId = (accepted.body as { runId: string }).runId;
    await waitFor(
      'the run succeeded',
      async () => {
        const r = await bus.ask(serviceSubject(ACTOR_KIND.orchestrator), {
          type: 'run.get.v1',
          body: { runId },
        });
        return (r.body as { status: string }).status === 'succeeded';
      },
      120_000,
      250,
    );
    const update = await system.agov(
      ['status', 'update', 'repo:site', '--phase', 'in-progress', '--task', 'pages', '--progress', '60'],
      first.natsUrl,
    );
    expect(update.code).toBe(0);
    const logged = await system.agov(
      ['memory', 'log', '--stdin', '--tag', 'notes'],
      first.natsUrl,
      'deploy plan\nERROR: dns not ready\n',
    );
    expect(logged.code).toBe(0);
    const blob = logged.stdout.trim();
    await waitFor(
      'the worker is idle in the directory',
      async () => {
        const r = await bus.ask(serviceSubject(ACTOR_KIND.agentDirectory), {
          type: 'agent.status.v1',
          body: {},
        });
        return (r.body as { agents: Array<{ agentId: string; state: string }> }).agents.some(
          (a) => a.agentId === 'rec-worker-1' && a.state === 'idle',
        );
      },
      60_000,
      250,
    );
    const taken = await system.agov(
      ['checkpoint', 'now', '--notes', 'before reset', '--json'],
      first.natsUrl,
    );
    expect(taken.code).toBe(0);
    const before = JSON.parse(taken.stdout);
    expect(before.sources.ledger, JSON.stringify(before.sources)).toMatchObject({ ok: true });
    await bus.close();

    await system.kill(first.proc);
    // Every process of the group is gone (signal 0 to the group finds none), not only agov up.
    await waitFor(
      'the whole process group is gone',
      () => {
        try {
          process.kill(-first.proc.pid!, 0);
          return false;
        } catch {
          return true;
        }
      },
      10_000,
      50,
    );
    const second = await system.up();

    // 1. Load the checkpoint.
    const load = await system.agov(['checkpoint', 'load', '--json'], second.natsUrl);
    expect(load.stderr).toBe('');
    const cp = JSON.parse(load.stdout);
    expect(cp).toMatchObject({ id: before.id, notes: 'before reset' });
    expect(cp.work).toEqual([
      expect.objectContaining({ target: 'repo:site', phase: 'in-progress', progress: 60, task: 'pages' }),
    ]);
    expect(cp.agents.map((a: { agentId: string }) => a.agentId)).toContain('rec-worker-1');
    expect(cp.ledger.size).toBe(before.ledger.size);
    // 2. The combined report: the same target, the same memory, a ledger at least as long as the checkpoint's.
    const report = await system.agov(['checkpoint', 'report', '--json'], second.natsUrl);
    const r = JSON.parse(report.stdout);
    expect(r.checkpoint.id).toBe(before.id);
    expect(r.dashboard.targets).toEqual([expect.objectContaining({ target: 'repo:site', progress: 60 })]);
    expect(r.memory.count).toBe(1);
    expect(r.ledger.ledgerSize).toBeGreaterThanOrEqual(before.ledger.size);
    // 3. Recent memory: the blob, whole.
    const list = await system.agov(['memory', 'list', '--limit', '5'], second.natsUrl);
    expect(list.stdout).toContain(blob.slice(0, 16));
    expect((await system.agov(['memory', 'fetch', blob], second.natsUrl)).stdout).toBe(
      'deploy plan\nERROR: dns not ready\n',
    );
    // 4. Resume work.
    const resume = await system.agov(
      ['status', 'update', 'repo:site', '--task', 'Resuming work'],
      second.natsUrl,
    );
    expect(resume.stdout.trim()).toBe('repo:site: in-progress 60% — Resuming work');
    const timeline = await system.agov(['checkpoint', 'timeline', '--json'], second.natsUrl);
    expect(JSON.parse(timeline.stdout).checkpoints.map((c: { id: string }) => c.id)).toContain(before.id);
  }, 600_000);
});
