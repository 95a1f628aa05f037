/**
 * Recovery after reset (docs/context.md): start a whole system (`agov up`, embedded services), run
 * work, take a checkpoint, SIGKILL every process of the system (its process group: agov up, the
 * embedded nats-server, redis-server and Vault, every actor process), start it again on the same data
 * folder and follow the four steps — load the checkpoint, the combined report, recent memory, resume
 * work — to the state that was there.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Bus } from '../../bus/index.ts';
import { connectionFilePath, readConnectionFile } from '../../cli/connection-file.ts';
import { ACTOR_KIND, serviceSubject } from '../../protocols/index.ts';
import { TestServers, waitFor } from '../harness/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGOV = join(ROOT, 'cli/agov.mjs');
import { loadOrCreateNatsAuthority, registerAuthority } from '../../infra/nats-auth/index.ts';

const servers = new TestServers();
const dataDir = servers.tempDir('agov-recovery-');
const teamsFile = join(dataDir, 'teams.yaml');
writeFileSync(
  teamsFile,
  'teams:\n  - id: crew\n    strategy: one_for_one\n    members:\n      - { id: rec-worker-1, tier: T1, role: executor }\n',
);
const live: ChildProcess[] = [];

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AGOV_DATA_DIR: dataDir,
    AGOV_TEAMS: teamsFile,
    AGOV_HTTP_PORT: '0',
  };
  for (const k of ['NATS_URL', 'REDIS_URL', 'VAULT_ADDR', 'VAULT_TOKEN', 'PIPELINE_ID']) delete env[k];
  return env;
}

/** `agov up` as the leader of its own process group, so one SIGKILL reaches every process it started. */
async function up(): Promise<{ proc: ChildProcess; natsUrl: string }> {
  rmSync(connectionFilePath(dataDir), { force: true });
  const proc = spawn(process.execPath, [AGOV, 'up'], {
    cwd: ROOT,
    env: baseEnv(),
    detached: true,
    stdio: 'ignore',
  });
  live.push(proc);
  await waitFor(
    'agov up wrote its connection file',
    () => existsSync(connectionFilePath(dataDir)),
    150_000,
    200,
  );
  const natsUrl = readConnectionFile(dataDir).natsUrl;
  // The operator of this machine can read the system's NATS keys: this test connects as admin.
  registerAuthority(natsUrl, await loadOrCreateNatsAuthority(join(dataDir, 'nats-auth')));
  return { proc, natsUrl };
}

function killGroup(proc: ChildProcess): Promise<void> {
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  process.kill(-proc.pid!, 'SIGKILL');
  return exited;
}

function agov(args: string[], natsUrl: string, input = '') {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [AGOV, ...args], {
      cwd: ROOT,
      env: { ...baseEnv(), NATS_URL: natsUrl },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

afterAll(async () => {
  for (const p of live)
    if (p.exitCode === null && p.signalCode === null) await killGroup(p).catch(() => undefined);
  await servers.stopAll();
});

describe('recovery after reset', () => {
  it('comes back to the checkpointed state after every process is SIGKILLed, following the four documented steps', async () => {
    const first = await up();
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
    const update = await agov(
      ['status', 'update', 'repo:site', '--phase', 'in-progress', '--task', 'pages', '--progress', '60'],
      first.natsUrl,
    );
    expect(update.code).toBe(0);
    const logged = await agov(
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
    const taken = await agov(['checkpoint', 'now', '--notes', 'before reset', '--json'], first.natsUrl);
    expect(taken.code).toBe(0);
    const before = JSON.parse(taken.stdout);
    expect(before.sources.ledger, JSON.stringify(before.sources)).toMatchObject({ ok: true });
    await bus.close();

    await killGroup(first.proc);
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
    const second = await up();

    // 1. Load the checkpoint.
    const load = await agov(['checkpoint', 'load', '--json'], second.natsUrl);
    expect(load.stderr).toBe('');
    const cp = JSON.parse(load.stdout);
    expect(cp).toMatchObject({ id: before.id, notes: 'before reset' });
    expect(cp.work).toEqual([
      expect.objectContaining({ target: 'repo:site', phase: 'in-progress', progress: 60, task: 'pages' }),
    ]);
    expect(cp.agents.map((a: { agentId: string }) => a.agentId)).toContain('rec-worker-1');
    expect(cp.ledger.size).toBe(before.ledger.size);
    // 2. The combined report: the same target, the same memory, a ledger at least as long as the checkpoint's.
    const report = await agov(['checkpoint', 'report', '--json'], second.natsUrl);
    const r = JSON.parse(report.stdout);
    expect(r.checkpoint.id).toBe(before.id);
    expect(r.dashboard.targets).toEqual([expect.objectContaining({ target: 'repo:site', progress: 60 })]);
    expect(r.memory.count).toBe(1);
    expect(r.ledger.ledgerSize).toBeGreaterThanOrEqual(before.ledger.size);
    // 3. Recent memory: the blob, whole.
    const list = await agov(['memory', 'list', '--limit', '5'], second.natsUrl);
    expect(list.stdout).toContain(blob.slice(0, 16));
    expect((await agov(['memory', 'fetch', blob], second.natsUrl)).stdout).toBe(
      'deploy plan\nERROR: dns not ready\n',
    );
    // 4. Resume work.
    const resume = await agov(['status', 'update', 'repo:site', '--task', 'Resuming work'], second.natsUrl);
    expect(resume.stdout.trim()).toBe('repo:site: in-progress 60% — Resuming work');
    const timeline = await agov(['checkpoint', 'timeline', '--json'], second.natsUrl);
    expect(JSON.parse(timeline.stdout).checkpoints.map((c: { id: string }) => c.id)).toContain(before.id);
  }, 600_000);
});
