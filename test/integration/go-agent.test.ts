/**
 * The reference agent and submitter in Go (examples/agents/go), built from Debian's packages and
 * driven against a real nats-server and orchestrator: it takes stages of its tier, reports progress
 * and results, refuses work above its tier, keeps credentials, and obeys suspend and resume — all
 * from docs/protocol.md, with no code of this project.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GovError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox } from '../../protocols/subjects.ts';
import { credsFile, waitFor } from '../harness/index.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GO_DIR = join(ROOT, 'examples/agents/go');
const GOPATH_PACKAGES = [
  '/usr/share/gocode/src/github.com/nats-io/nats.go',
  '/usr/share/gocode/src/github.com/vmihailenco/msgpack/v5',
];

function goMissing(): string | undefined {
  const go = ['/usr/bin/go', '/usr/lib/go/bin/go', '/usr/local/go/bin/go'].some((p) => existsSync(p));
  if (!go) return 'Go is not installed (apt-get install golang-go)';
  const missing = GOPATH_PACKAGES.filter((p) => !existsSync(p));
  if (missing.length)
    return `Debian Go packages missing: ${missing.join(', ')} (apt-get install golang-github-nats-io-go-nats-dev golang-github-vmihailenco-msgpack.v5-dev)`;
  return undefined;
}

const why = goMissing();
if (why) console.warn(`skipping the Go reference agent: ${why}`);

function run(file: string, args: string[], timeoutMs = 120_000) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { cwd: ROOT, timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(why)('the Go reference agent (examples/agents/go)', () => {
  const rig = new OrchestratorRig();
  let bin = '';
  let agent: ChildProcess;
  let agentLog = '';
  let submitCreds = '';

  beforeAll(async () => {
    await rig.start();
    bin = join(rig.servers.tempDir('agov-go-'), 'agov-go');
    const built = await run(join(GO_DIR, 'build.sh'), [bin], 240_000);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    await rig.orchestrator();
    // What `agov agent enroll` and the operator's client credential give an outsider.
    const credsDir = rig.servers.tempDir('agov-go-creds-');
    const agentCreds = await credsFile(rig.nats, { role: 'agent', id: 'go-1', tier: 'T1' }, credsDir);
    submitCreds = await credsFile(rig.nats, { role: 'client', name: 'go-submit' }, credsDir);
    agent = spawn(
      bin,
      [
        'agent',
        '-id',
        'go-1',
        '-tier',
        'T1',
        '-heartbeat-ms',
        '200',
        '-nats',
        rig.nats.url,
        '-creds',
        agentCreds,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    agent.stdout!.on('data', (b) => (agentLog += b));
    agent.stderr!.on('data', (b) => (agentLog += b));
    rig.servers.onStop(async () => {
      agent.kill('SIGKILL');
    });
    await waitFor(
      'the Go agent to be ready',
      () => agentLog.includes('ready on gov.actor.agent.go-1'),
      30_000,
    );
  }, 300_000);
  afterAll(() => rig.stop());

  it('runs a pipeline submitted by the Go submitter, every stage on the Go agent with progress and results', async () => {
    const r = await run(bin, [
      'submit',
      '-creds',
      submitCreds,
      '-nats',
      rig.nats.url,
      '-file',
      'examples/hello.yaml',
      '-param',
      'pauseMs=20',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const runId = /^run (r-\S+):/m.exec(r.stdout)![1]!;
    expect(r.stdout).toMatch(/^run-succeeded$/m);
    const events = rig.events(runId);
    const accepted = events.filter((e) => e.event === 'stage-accepted');
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.every((e) => e.agentId === 'go-1')).toBe(true);
    expect(events.some((e) => e.event === 'stage-progress')).toBe(true);
    expect(events.filter((e) => e.event === 'stage-succeeded').length).toBe(accepted.length);
  });

  it('reports a failing task as failed, and the submitter exits 1 with the error', async () => {
    const dir = rig.servers.tempDir('agov-go-files-');
    const file = join(dir, 'fails.yaml');
    await import('node:fs').then((fs) =>
      fs.writeFileSync(
        file,
        'name: fails\nversion: 1\nstages:\n  - { id: boom, task: { kind: fail, message: on purpose, code: GOV_ERR_TASK_FAILED } }\n',
      ),
    );
    const r = await run(bin, ['submit', '-creds', submitCreds, '-nats', rig.nats.url, '-file', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^run-failed/m);
    expect(r.stdout).toContain('on purpose');
  });

  it('refuses an assignment above its tier with GOV_ERR_TIER_FORBIDDEN, decoding our msgpack', async () => {
    const err = await rig.client
      .ask(actorInbox('agent', 'go-1'), {
        type: 'agent.task.assign.v1',
        body: {
          taskId: 't-x',
          runId: 'r-x',
          stageId: 's',
          attempt: 1,
          task: { kind: 'noop' },
          requiredTier: 'T2',
          timeoutMs: 1000,
          replyTo: 'gov.results.test',
          env: {},
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GovError);
    expect((err as GovError).code).toBe('GOV_ERR_TIER_FORBIDDEN');
  });

  it('obeys suspend: aborts its task, refuses work while suspended, and takes work again after resume', async () => {
    const runId = await rig.submit(
      'name: long\nversion: 1\nstages:\n  - { id: wait, task: { kind: sleep, ms: 30000 } }\n',
    );
    await rig.event(runId, 'stage-accepted');
    rig.client.tell(actorInbox('agent', 'go-1'), {
      type: 'agent.credentials.v1',
      body: { runId, token: 'hvs.not-a-real-token', accessor: 'acc-1', expiresAt: Date.now() + 60_000 },
    });
    const suspended = await rig.client.ask(actorInbox('agent', 'go-1'), {
      type: 'agent.command.v1',
      body: { command: 'suspend', byTier: 'T2', by: 'test', reason: 'budget-exhausted' },
    });
    expect(suspended).toMatchObject({
      type: 'agent.state.v1',
      body: { agentId: 'go-1', state: 'suspended' },
    });
    const end = await rig.finished(runId);
    expect(end.event).toBe('run-failed');
    expect(agentLog).toContain(`credentials for run ${runId} received`);
    expect(agentLog).not.toContain('hvs.not-a-real-token');

    const refused = await rig.client
      .ask(actorInbox('agent', 'go-1'), {
        type: 'agent.task.assign.v1',
        body: {
          taskId: 't-y',
          runId: 'r-y',
          stageId: 's',
          attempt: 1,
          task: { kind: 'noop' },
          requiredTier: 'T0',
          timeoutMs: 1000,
          replyTo: 'gov.results.test',
          env: {},
        },
      })
      .catch((e: unknown) => e);
    expect((refused as GovError).code).toBe('GOV_ERR_AGENT_UNAVAILABLE');

    const resumed = await rig.client.ask(actorInbox('agent', 'go-1'), {
      type: 'agent.command.v1',
      body: { command: 'resume', byTier: 'T2', by: 'test' },
    });
    expect(resumed.body).toMatchObject({ state: 'idle' });
    const again = await rig.submit(
      'name: again\nversion: 1\nstages:\n  - { id: one, task: { kind: noop } }\n',
    );
    expect((await rig.finished(again)).event).toBe('run-succeeded');
  });
});
