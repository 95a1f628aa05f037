/**
 * Operator controls (issue 14 item 4) on a whole system under NATS auth: the operator's client
 * credential (CLI), a T2 agent's credential and the gateway with a T2 key suspend and resume an agent,
 * show and reset a run's budget and revoke a run's token; each is applied with the verified actor's
 * name. T0/T1 API keys and T0/T1 agent credentials are refused, and nothing changes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '../../bus/index.ts';
import { sendControl } from '../../cli/command-control.ts';
import { mintUser } from '../../infra/nats-auth/index.ts';
import { actorInbox, contextSubject, errorsSubject, serviceSubject } from '../../protocols/index.ts';
import type { Principal } from '../../protocols/permissions.ts';
import { parseTeams, type RunningSystem, startSystem } from '../../system/index.ts';
import { collect, systemGatewayUrl, waitFor } from '../harness/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TEAMS = `
teams:
  - id: ops
    members:
      - { id: worker-1, tier: T1, role: worker }
`;
const KEYS = {
  viewer: 'viewer-key-0123456789',
  runner: 'runner-key-0123456789',
  ops: 'ops-key-0123456789ab',
};

let sys: RunningSystem;
let dir: string;
let base: string;
const buses: Bus[] = [];

async function busAs(principal: Principal): Promise<Bus> {
  const u = await mintUser(sys.services.embedded.nats!.auth, principal);
  const bus = await Bus.connect({
    servers: sys.natsUrl,
    name: `test-${u.name}`,
    credentials: { kind: 'jwt', jwt: u.jwt, seed: u.seed },
    askTimeoutMs: 15_000,
  });
  buses.push(bus);
  return bus;
}

async function agentState(): Promise<{ state: string; tier: string }> {
  const r = await sys.client.ask(actorInbox('agent', 'worker-1'), { type: 'agent.status.v1', body: {} });
  return r.body as { state: string; tier: string };
}

async function http(method: string, path: string, key?: keyof typeof KEYS, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${KEYS[key]}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agov-controls-'));
  sys = await startSystem({
    dataDir: dir,
    teams: parseTeams(TEAMS, 'controls-teams'),
    serviceArgs: {
      gateway: {
        port: 0,
        apiKeys: Object.entries(KEYS).map(
          ([n, k]) => `${n}:${{ viewer: 'T0', runner: 'T1', ops: 'T2' }[n]}:${k}`,
        ),
      },
    },
    localApiKeys: false,
  });
  base = await systemGatewayUrl(sys);
  await waitFor('worker-1 idle', async () => (await agentState()).state === 'idle', 60_000);
}, 180_000);

afterAll(async () => {
  for (const b of buses) await b.close().catch(() => undefined);
  await sys?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('operator controls over the bus', () => {
  it("suspends and resumes an agent with the operator's credential, named as the verified client", async () => {
    const op = await busAs({ role: 'client', name: 'alice' });
    const outcomes = collect(sys.client, 'gov.obs.agent.worker-1');
    await outcomes.ready();
    const suspended = await sendControl(op, {
      on: 'agent',
      id: 'worker-1',
      command: 'suspend',
      reason: 'drill',
    });
    expect(suspended).toMatchObject({ outcome: 'applied', actor: 'client-alice', tier: 'T2' });
    expect((await agentState()).state).toBe('suspended');
    const outcome = await outcomes.next((e) => e.type === 'agent.command.outcome.v1');
    expect(outcome.body).toMatchObject({ command: 'suspend', by: 'client-alice', outcome: 'applied' });
    await sendControl(op, { on: 'agent', id: 'worker-1', command: 'resume' });
    await waitFor('worker-1 idle again', async () => (await agentState()).state === 'idle');
    outcomes.close();
  });

  it('answers a control on an unknown agent with a typed error', async () => {
    const op = await busAs({ role: 'client', name: 'alice' });
    await expect(
      sendControl(op, { on: 'agent', id: 'nobody-here', command: 'resume' }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/GOV_ERR_(NO_RESPONDERS|NOT_FOUND)/),
    });
  });

  it("shows and resets a run's budget, and revokes its token, as a T2 agent", async () => {
    const lead = await busAs({ role: 'agent', id: 'lead-2', tier: 'T2' });
    for (let i = 0; i < 2; i++)
      sys.client.tell(errorsSubject('r-ctl-1'), {
        type: 'budget.report.v1',
        body: { runId: 'r-ctl-1', outcome: 'error', source: 'test' },
      });
    await waitFor('two errors counted', async () => {
      const r = await sendControl(lead, { on: 'budget', id: 'r-ctl-1', command: 'show' });
      return (r.detail as { windows: Array<{ errors: number }> }).windows[0]?.errors === 2;
    });
    const reset = await sendControl(lead, { on: 'budget', id: 'r-ctl-1', command: 'reset', reason: 'fixed' });
    expect(reset).toMatchObject({ outcome: 'applied', actor: 'agent-lead-2', tier: 'T2' });
    expect(reset.checkpoint?.id, 'a budget reset forgets counts: checkpointed first').toMatch(/^cp-/);
    expect((reset.detail as { windows: Array<{ errors: number }> }).windows[0]?.errors).toBe(0);
    const revoked = await sendControl(lead, { on: 'token', id: 'r-ctl-1', command: 'revoke' });
    expect(revoked).toMatchObject({ outcome: 'applied', detail: { runId: 'r-ctl-1', revoked: false } });
    expect(revoked.checkpoint?.id).toMatch(/^cp-/);
    expect(revoked.checkpoint?.id).not.toBe(reset.checkpoint?.id);
    // Undoable controls take none.
    const shown = await sendControl(lead, { on: 'budget', id: 'r-ctl-1', command: 'show' });
    expect(shown.checkpoint).toBeUndefined();
  });

  it('runs `agov agents suspend|resume ID` as a process with the operator credential', async () => {
    const u = await mintUser(sys.services.embedded.nats!.auth, { role: 'client', name: 'cli-op' });
    const creds = join(dir, 'cli-op.creds');
    writeFileSync(creds, u.creds, { mode: 0o600 });
    const agov = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [join(ROOT, 'cli/agov.mjs'), ...args], {
          cwd: ROOT,
          env: { ...process.env, NATS_URL: sys.natsUrl, NATS_CREDS: creds },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      });
    const s = await agov(['agents', 'suspend', 'worker-1', '--reason', 'cli drill']);
    expect(s.stderr).toBe('');
    expect(s.stdout).toContain('agent worker-1: suspend applied by client-cli-op (T2)');
    expect((await agentState()).state).toBe('suspended');
    const r = await agov(['agents', 'resume', 'worker-1', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'applied', command: 'resume' });
    await waitFor('worker-1 idle again', async () => (await agentState()).state === 'idle');
  }, 60_000);
});

describe('run controls', () => {
  const yaml = (sleepMs: number) =>
    `name: held\nversion: 1\nstages:\n  - id: a\n    agent: { tier: T1 }\n    task: { kind: sleep, ms: ${sleepMs} }\n  - id: b\n    needs: [a]\n    agent: { tier: T1 }\n    task: { kind: noop }\n`;
  const submit = async (sleepMs: number) => {
    const r = await sys.client.ask(serviceSubject('orchestrator'), {
      type: 'run.request.v1',
      body: { yaml: yaml(sleepMs) },
    });
    return (r.body as { runId: string }).runId;
  };
  const runState = async (runId: string) =>
    (await sys.client.ask(serviceSubject('orchestrator'), { type: 'run.get.v1', body: { runId } })).body as {
      status: string;
      paused?: { by?: string };
      stages: Array<{ stageId: string; status: string }>;
    };

  it('pauses a run (no new dispatch while held, the running stage finishes) and resumes it to success', async () => {
    const op = await busAs({ role: 'client', name: 'alice' });
    const runId = await submit(2_000);
    // Paused once a runs (pausing before its dispatch would hold a too, which proves less).
    await waitFor(
      'stage a running',
      async () => (await runState(runId)).stages[0]!.status === 'running',
      30_000,
    );
    const paused = await sendControl(op, { on: 'run', id: runId, command: 'pause', reason: 'look first' });
    expect(paused).toMatchObject({ outcome: 'applied', detail: { paused: { by: 'client-alice' } } });
    await waitFor(
      'stage a done',
      async () => (await runState(runId)).stages[0]!.status === 'succeeded',
      30_000,
    );
    // Held: b is ready and an agent is idle, yet nothing is dispatched for a while.
    await new Promise((r) => setTimeout(r, 1_000));
    const held = await runState(runId);
    expect(held.status).toBe('running');
    expect(held.stages[1]!.status).toBe('pending');
    await sendControl(op, { on: 'run', id: runId, command: 'resume' });
    await waitFor('run succeeded', async () => (await runState(runId)).status === 'succeeded', 30_000);
    await expect(sendControl(op, { on: 'run', id: runId, command: 'pause' })).rejects.toMatchObject({
      code: 'GOV_ERR_INVALID_TRANSITION',
    });
  }, 60_000);

  it('drains a working agent with a T2 key over HTTP: its running stage finishes (not cancelled), it then takes nothing new and is suspended, audited with the key; resume lets the run finish', async () => {
    const outcomes = collect(sys.client, 'gov.obs.agent.worker-1');
    await outcomes.ready();
    const runId = await submit(1_500);
    await waitFor(
      'stage a running',
      async () => (await runState(runId)).stages[0]!.status === 'running',
      30_000,
    );
    const drained = await http('POST', '/api/agents/worker-1/drain', 'ops', { reason: 'rolling restart' });
    expect(drained.status).toBe(200);
    expect(drained.json).toMatchObject({ outcome: 'applied', actor: 'gateway-gateway-1/ops', tier: 'T2' });
    expect((await agentState()).state).toBe('working');
    await waitFor(
      'worker-1 suspended after its task',
      async () => (await agentState()).state === 'suspended',
    );
    expect((await runState(runId)).stages[0]!.status).toBe('succeeded');
    const outcome = await outcomes.next(
      (e) => e.type === 'agent.command.outcome.v1' && e.body.command === 'drain',
    );
    expect(outcome.body).toMatchObject({ by: 'gateway-gateway-1/ops', outcome: 'applied' });
    // Drained: b is ready and worker-1 is the only agent, yet nothing is dispatched to it for a while.
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await runState(runId)).stages[1]!.status).toBe('pending');
    await sendControl(await busAs({ role: 'client', name: 'alice' }), {
      on: 'agent',
      id: 'worker-1',
      command: 'resume',
    });
    await waitFor('run succeeded', async () => (await runState(runId)).status === 'succeeded', 30_000);
    outcomes.close();
  }, 60_000);

  it('checkpoint restore pauses again a run that was paused when the checkpoint was taken (issue 15)', async () => {
    const op = await busAs({ role: 'client', name: 'alice' });
    const runId = await submit(60_000);
    await waitFor(
      'stage a running',
      async () => (await runState(runId)).stages[0]!.status === 'running',
      30_000,
    );
    await sendControl(op, { on: 'run', id: runId, command: 'pause', reason: 'hold for review' });
    const cp = await sys.client.ask(serviceSubject('checkpoint'), {
      type: 'checkpoint.take.v1',
      body: { notes: 'held run' },
    });
    await sendControl(op, { on: 'run', id: runId, command: 'resume' });
    expect((await runState(runId)).paused).toBeUndefined();
    // Restores are taken only where the broker vouches for the restorer: its own gov.ctx subject.
    const restored = await op.ask(contextSubject('checkpoint', 'T2', op.principal()), {
      type: 'checkpoint.restore.v1',
      body: { id: (cp.body as { id: string }).id },
    });
    expect((restored.body as { actions: unknown[] }).actions).toContainEqual(
      expect.objectContaining({ kind: 'run-pause', target: runId, outcome: 'applied' }),
    );
    expect((await runState(runId)).paused).toMatchObject({ by: 'client-alice' });
    await sendControl(op, { on: 'run', id: runId, command: 'cancel' });
    await waitFor('worker-1 idle again', async () => (await agentState()).state === 'idle', 30_000);
  }, 90_000);

  it('cancels a run, and answers an unknown run with GOV_ERR_NOT_FOUND', async () => {
    const op = await busAs({ role: 'client', name: 'alice' });
    const runId = await submit(30_000);
    await waitFor(
      'stage a running',
      async () => (await runState(runId)).stages[0]!.status === 'running',
      30_000,
    );
    const done = await sendControl(op, { on: 'run', id: runId, command: 'cancel', reason: 'drill' });
    expect(done).toMatchObject({ outcome: 'applied', detail: { status: 'cancelled' } });
    // A cancel cannot be undone: the fleet was checkpointed first, with the run still running in it.
    const before = await sys.client.ask(serviceSubject('checkpoint'), {
      type: 'checkpoint.get.v1',
      body: { id: done.checkpoint?.id },
    });
    expect(before.body).toMatchObject({
      reason: 'before-control',
      takenBy: expect.stringContaining('control'),
    });
    const cp = before.body as { notes: string; runs: Array<{ runId: string; status: string }> };
    expect(cp.notes).toBe(`before run cancel ${runId} by client-alice`);
    expect(cp.runs.find((r) => r.runId === runId)?.status).toBe('running');
    await expect(sendControl(op, { on: 'run', id: 'r-none', command: 'cancel' })).rejects.toMatchObject({
      code: 'GOV_ERR_NOT_FOUND',
    });
    await waitFor('worker-1 idle again', async () => (await agentState()).state === 'idle', 30_000);
  }, 60_000);
});

describe('PIPELINE_ID and agov report (issue 14 item 5)', () => {
  const errorsOf = async (runId: string) => {
    const r = await sysControl({ on: 'budget', id: runId, command: 'show' });
    return (r.detail as { windows: Array<{ errors: number }> }).windows[0]?.errors ?? 0;
  };
  const sysControl = async (cmd: Parameters<typeof sendControl>[1]) =>
    sendControl(await busAs({ role: 'client', name: 'alice' }), cmd);

  it('counts what a sandboxed exec task reports through $AGOV_REPORT_FILE against its own run (PIPELINE_ID in its env)', async () => {
    const script =
      'echo "id=$PIPELINE_ID parent=$PARENT_PIPELINE_ID"; ' +
      `printf '%s\\n' '{"outcome":"error","message":"disk full","code":"E_DISK"}' '{"outcome":"error"}' not-json >> "$AGOV_REPORT_FILE"`;
    const yaml = `name: reporter\nversion: 1\nstages:\n  - id: a\n    agent: { tier: T1 }\n    task: { kind: exec, command: [sh, -c, ${JSON.stringify(script)}] }\n`;
    const accepted = await sys.client.ask(serviceSubject('orchestrator'), {
      type: 'run.request.v1',
      body: { yaml },
    });
    const runId = (accepted.body as { runId: string }).runId;
    await waitFor(
      'run finished',
      async () => {
        const r = await sys.client.ask(serviceSubject('orchestrator'), {
          type: 'run.get.v1',
          body: { runId },
        });
        return ['succeeded', 'failed'].includes((r.body as { status: string }).status);
      },
      60_000,
    );
    const run = (
      await sys.client.ask(serviceSubject('orchestrator'), { type: 'run.get.v1', body: { runId } })
    ).body as {
      status: string;
      stages: Array<{ output?: { stdout: string; reports: unknown[]; reportsDropped: number } }>;
    };
    expect(run.status).toBe('succeeded');
    expect(run.stages[0]!.output!.stdout).toContain(`id=${runId} parent=`);
    expect(run.stages[0]!.output!.reports).toHaveLength(2);
    expect(run.stages[0]!.output!.reportsDropped).toBe(1);
    await waitFor('two reported errors counted', async () => (await errorsOf(runId)) === 2);
  }, 90_000);

  it('runs `agov report` as a process: into $AGOV_REPORT_FILE in a task, over HTTP with a T1 key outside one', async () => {
    const file = join(dir, 'reports.jsonl');
    const agov = (args: string[], env: Record<string, string>) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const base = { ...process.env };
        for (const k of ['PIPELINE_ID', 'AGOV_REPORT_FILE', 'AGOV_HTTP_URL', 'AGOV_API_KEY']) delete base[k];
        const child = spawn(process.execPath, [join(ROOT, 'cli/agov.mjs'), ...args], {
          cwd: ROOT,
          env: { ...base, ...env },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      });
    const inTask = await agov(['report', 'error', '--message', 'bad input', '--code', 'E_IN'], {
      AGOV_REPORT_FILE: file,
      PIPELINE_ID: 'r-task',
    });
    expect(inTask.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('{"outcome":"error","message":"bad input","code":"E_IN"}\n');
    // Outside a task: the HTTP form, for a run the orchestrator knows (a T1 key may report only those).
    const accepted = await sys.client.ask(serviceSubject('orchestrator'), {
      type: 'run.request.v1',
      body: {
        yaml: 'name: known\nversion: 1\nstages:\n  - id: a\n    agent: { tier: T1 }\n    task: { kind: noop }\n',
      },
    });
    const runId = (accepted.body as { runId: string }).runId;
    const before = await errorsOf(runId);
    const outside = await agov(['report', 'error', '--message', 'from a tool'], {
      PIPELINE_ID: runId,
      AGOV_HTTP_URL: base,
      AGOV_API_KEY: KEYS.runner,
    });
    expect(outside.stderr).toBe('');
    expect(outside.stdout).toContain(`reported error for run ${runId}`);
    await waitFor('the tool’s error counted', async () => (await errorsOf(runId)) === before + 1);
    const bad = await agov(['report', 'error'], {
      PIPELINE_ID: runId,
      AGOV_HTTP_URL: base,
      AGOV_API_KEY: 'wrong-key-0123456789',
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('401');
  }, 60_000);
});

describe('operator controls as an attacker', () => {
  for (const tier of ['T0', 'T1'] as const) {
    it(`refuses a ${tier} agent credential at the broker, on the T2 and its own tier's control subject, and nothing changes`, async () => {
      const u = await mintUser(sys.services.embedded.nats!.auth, {
        role: 'agent',
        id: `mallory-${tier}`,
        tier,
      });
      const nc = await connect({
        servers: sys.natsUrl,
        authenticator: credsAuthenticator(new TextEncoder().encode(u.creds)),
        inboxPrefix: u.inboxPrefix,
      });
      const violations: string[] = [];
      void (async () => {
        for await (const s of nc.status()) if (s.type === 'error') violations.push(String(s.error));
      })();
      const body = JSON.stringify({
        sv: 1,
        type: 'control.command.v1',
        id: `x-${tier}`,
        ts: Date.now(),
        from: 'gov.actor.gateway.gateway-1',
        body: { on: 'agent', id: 'worker-1', command: 'suspend', onBehalfOf: 'ops' },
      });
      for (const subject of [
        `gov.ctl.T2.${u.name}`,
        `gov.ctl.${tier}.${u.name}`,
        'gov.ctl.T2.client-alice',
        'gov.ctl.T2.gateway-gateway-1',
      ]) {
        nc.publish(subject, body);
        await nc.flush();
        await expect
          .poll(() => violations.join('\n'), { timeout: 10_000 })
          .toContain(`Permissions Violation for Publish to "${subject}"`);
      }
      await nc.close();
      expect((await agentState()).state).toBe('idle');
    });
  }

  it('refuses T0 and T1 API keys (403) and no key (401); the agent stays idle; a T2 key acts as gateway/key', async () => {
    expect((await http('POST', '/api/agents/worker-1/suspend')).status).toBe(401);
    for (const key of ['viewer', 'runner'] as const) {
      const r = await http('POST', '/api/agents/worker-1/suspend', key, { reason: 'attack' });
      expect(r.status).toBe(403);
      expect((await http('POST', '/api/budgets/r-ctl-2/reset', key)).status).toBe(403);
      expect((await http('POST', '/api/tokens/r-ctl-2/revoke', key)).status).toBe(403);
    }
    expect((await agentState()).state).toBe('idle');
    const shown = await http('GET', '/api/budgets/r-ctl-2', 'viewer');
    expect(shown.status).toBe(200);
    expect(shown.json).toMatchObject({
      on: 'budget',
      command: 'show',
      actor: 'gateway-gateway-1/viewer',
      tier: 'T0',
    });
    const done = await http('POST', '/api/agents/worker-1/suspend', 'ops', { reason: 'http drill' });
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ outcome: 'applied', actor: 'gateway-gateway-1/ops', tier: 'T2' });
    expect((await agentState()).state).toBe('suspended');
    expect((await http('POST', '/api/agents/worker-1/resume', 'ops')).status).toBe(200);
    await waitFor('worker-1 idle again', async () => (await agentState()).state === 'idle');
  });
});
