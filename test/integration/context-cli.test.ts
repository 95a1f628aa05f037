import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointKind, memoryKind, workStatusKind } from '../../actors/context/index.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { credsFile, TestServers } from '../harness/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGOV = join(ROOT, 'cli/agov.mjs');
const servers = new TestServers();
let nats: NatsServer;
/** The operator's CLI credential (role client), as `agov up` writes it to nats-auth/cli.creds. */
let cliCreds: string;
const handles: ActorHandle[] = [];

function agov(args: string[], input = '', env: NodeJS.ProcessEnv = {}) {
  const base = { ...process.env };
  delete base.PIPELINE_ID;
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [AGOV, ...args], {
      cwd: ROOT,
      env: { ...base, NATS_URL: nats.url, NATS_CREDS: cliCreds, ...env },
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

beforeAll(async () => {
  nats = await servers.nats();
  cliCreds = await credsFile(
    nats,
    { role: 'client', name: 'context-cli' },
    servers.tempDir('agov-context-cli-'),
  );
  const bus = { servers: nats.url };
  handles.push(await runActor(memoryKind, { id: 'memory-1', bus }));
  handles.push(await runActor(workStatusKind, { id: 'status-1', bus, args: { baseDir: ROOT } }));
  handles.push(
    await runActor(checkpointKind, { id: 'checkpoint-1', bus, args: { everyMs: 0, sourceTimeoutMs: 300 } }),
  );
  servers.onStop(async () => {
    for (const h of handles) await h.stop('test over').catch(() => undefined);
  });
}, 60_000);
afterAll(() => servers.stopAll());

describe('agov memory, status and checkpoint (as processes)', () => {
  it('logs from stdin with the task PIPELINE_ID, fetches the summary, lists and counts by run', async () => {
    const log = await agov(['memory', 'log', '--stdin', '--tag', 'build'], 'line one\nERROR: it broke\n', {
      PIPELINE_ID: 'r-cli-1',
    });
    expect(log.stderr).toBe('');
    expect(log.code).toBe(0);
    const id = log.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const summary = await agov(['memory', 'fetch', id, '-s']);
    expect(summary.stdout).toContain('2 lines');
    expect(summary.stdout).toContain('2: ERROR: it broke');
    const content = await agov(['memory', 'fetch', id]);
    expect(content.stdout).toBe('line one\nERROR: it broke\n');
    const stats = JSON.parse((await agov(['memory', 'stats', '--json'])).stdout);
    expect(stats.byRun).toEqual({ 'r-cli-1': { count: 1, bytes: 25 } });
    const list = await agov(['memory', 'list', '--limit', '5']);
    expect(list.stdout).toContain(id.slice(0, 16));
  }, 120_000);

  it('updates a target and draws the dashboard; a sweep of a missing path exits 1', async () => {
    const up = await agov([
      'status',
      'update',
      'actors',
      '--phase',
      'in-progress',
      '--task',
      'context',
      '--progress',
      '40',
    ]);
    expect(up.stdout.trim()).toBe('actors: in-progress 40% — context');
    await agov(['status', 'update', 'no-such-dir', '--phase', 'blocked']);
    const dash = await agov(['status', 'dashboard']);
    expect(dash.stdout).toMatch(/Progress: .* 20%/);
    expect(dash.stdout).toContain('actors');
    const sweep = await agov(['status', 'sweep', '--json']);
    expect(sweep.code).toBe(1);
    const flags = Object.fromEntries(
      JSON.parse(sweep.stdout).targets.map((t: { target: string; flags: string[] }) => [t.target, t.flags]),
    );
    expect(flags).toEqual({ actors: [], 'no-such-dir': ['missing'] });
    const bad = await agov(['status', 'update', '../escape', '--phase', 'blocked']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('GOV_ERR_INVALID_TARGET');
  }, 120_000);

  it('takes a checkpoint with notes, loads it, lists the timeline and reports; an unknown id is a typed error', async () => {
    const now = await agov(['checkpoint', 'now', '--notes', 'cli test']);
    expect(now.code).toBe(0);
    expect(now.stdout).toContain('cp-000001 taken');
    const load = JSON.parse((await agov(['checkpoint', 'load', '--json'])).stdout);
    expect(load).toMatchObject({ id: 'cp-000001', notes: 'cli test' });
    expect(load.work.map((t: { target: string }) => t.target).sort()).toEqual(['actors', 'no-such-dir']);
    const timeline = await agov(['checkpoint', 'timeline']);
    expect(timeline.stdout).toContain('cp-000001');
    const report = await agov(['checkpoint', 'report']);
    expect(report.stdout).toContain('== status');
    expect(report.stdout).toContain('1 blobs');
    expect(report.stdout).toMatch(/== ledger\nunavailable: GOV_ERR_NO_RESPONDERS/);
    const missing = await agov(['checkpoint', 'load', 'cp-404']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('GOV_ERR_CHECKPOINT_NOT_FOUND');
  }, 120_000);
});
