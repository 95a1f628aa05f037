import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credsFile } from '../harness/index.ts';
import { serviceSubject } from '../../protocols/subjects.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGOV = join(ROOT, 'cli/agov.mjs');

function agov(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = { ...process.env };
  delete base.NATS_URL;
  delete base.REDIS_URL;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [AGOV, ...args],
      { cwd: ROOT, env: { ...base, ...env }, timeout: 90_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const rig = new OrchestratorRig();
let dataDir: string;
/** The operator's client credential for the rig's server, as `agov up` writes one for the local user. */
let creds: string;

beforeAll(async () => {
  await rig.start();
  await rig.orchestrator();
  await rig.agent('cli-agent-1');
  dataDir = rig.servers.tempDir('agov-cli-data-');
  creds = await credsFile(rig.nats, { role: 'client', name: 'cli' }, rig.servers.tempDir('agov-cli-creds-'));
});
afterAll(() => rig.stop());

describe('agov run (as a process)', () => {
  it('runs examples/hello.yaml end to end on embedded defaults and exits 0', async () => {
    const r = await agov(['run', 'examples/hello.yaml', '--param', 'pauseMs=5'], { AGOV_DATA_DIR: dataDir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/run r-\S+: pipeline hello, 5 stage\(s\) \(embedded system\)/);
    expect(r.stdout).toContain('stage done succeeded');
    expect(r.stdout).toMatch(/run r-\S+ succeeded in/);

    // The embedded store keeps the run: `agov runs` and `agov run-status` read it back.
    const runId = /run (r-\S+):/.exec(r.stdout)![1]!;
    const runs = await agov(['runs', '--json'], { AGOV_DATA_DIR: dataDir });
    expect(JSON.parse(runs.stdout)).toEqual([
      expect.objectContaining({ runId, status: 'succeeded', pipeline: 'hello' }),
    ]);
    const status = await agov(['run-status', runId], { AGOV_DATA_DIR: dataDir });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`run ${runId}  succeeded  pipeline hello`);
  });

  it('exits 1 with the error when the run fails, and with located diagnostics when the file is broken', async () => {
    const dir = rig.servers.tempDir('agov-cli-files-');
    const failing = join(dir, 'failing.yaml');
    writeFileSync(
      failing,
      'name: failing\nversion: 1\nstages:\n  - { id: nope, task: { kind: fail, message: on purpose } }\n',
    );
    const r = await agov(['run', failing], { NATS_URL: rig.nats.url, NATS_CREDS: creds });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/run r-\S+ failed in .*on purpose/);

    const b = await agov(['run', 'examples/broken/cycle.yaml'], {
      NATS_URL: rig.nats.url,
      NATS_CREDS: creds,
    });
    expect(b.code).toBe(1);
    expect(b.stdout).toContain('examples/broken/cycle.yaml:6:13: error[cycle]');
  });

  it('computes the effective tier before submitting, as the gateway does: refuses root policies, path references and stages above --tier, and no run is made', async () => {
    const dir = rig.servers.tempDir('agov-cli-tier-');
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const env = { NATS_URL: rig.nats.url, NATS_CREDS: creds };
    const stage = (tier: string) =>
      `stages:\n  - id: s\n    agent: { tier: ${tier} }\n    task: { kind: noop }\n`;
    const before = (
      await rig.client.ask(serviceSubject('orchestrator'), { type: 'run.list.v1', body: { limit: 1000 } })
    ).body as { runs: unknown[] };

    const root = await agov(
      ['run', write('root.yaml', `name: root\nversion: 1\ntoken: { policies: [root] }\n${stage('T1')}`)],
      env,
    );
    expect(root.code).toBe(1);
    expect(root.stderr).toContain('error[GOV_ERR_POLICY_VIOLATION]');
    const abs = await agov(
      [
        'run',
        write(
          'abs.yaml',
          'name: abs\nversion: 1\nstages:\n  - id: s\n    task: { kind: pipeline, file: /etc/hostname }\n',
        ),
      ],
      env,
    );
    expect(abs.code).toBe(1);
    expect(abs.stderr).toContain('error[GOV_ERR_POLICY_VIOLATION]');
    // A child file of the same folder is followed: its T2 stage makes the parent a T2 run.
    write('admin-child.yaml', `name: admin-child\nversion: 1\n${stage('T2')}`);
    const parent = write(
      'parent.yaml',
      'name: parent\nversion: 1\nstages:\n  - id: s\n    agent: { tier: T1 }\n    task: { kind: pipeline, file: admin-child.yaml }\n',
    );
    const asT1 = await agov(['run', parent, '--tier', 'T1'], env);
    expect(asT1.code).toBe(1);
    expect(asT1.stderr).toContain('error[GOV_ERR_TIER_FORBIDDEN]');
    expect(asT1.stderr).toContain('s/s');
    const after = (
      await rig.client.ask(serviceSubject('orchestrator'), { type: 'run.list.v1', body: { limit: 1000 } })
    ).body as { runs: unknown[] };
    expect(after.runs).toHaveLength(before.runs.length);

    // Control: the operator's default tier admits it, and says at which tier.
    const ok = await agov(
      ['run', write('t1.yaml', `name: t1\nversion: 1\n${stage('T1')}`), '--detach', '--tier', 'T1'],
      env,
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('pipeline t1: effective tier T1 (stage s (noop))');
  });

  it('submits with --detach and reports the run with run-status and runs against NATS_URL', async () => {
    const r = await agov(['run', 'examples/hello.yaml', '--detach'], {
      NATS_URL: rig.nats.url,
      NATS_CREDS: creds,
    });
    expect(r.code).toBe(0);
    const runId = /run (r-\S+):/.exec(r.stdout)![1]!;
    await rig.finished(runId);
    const status = await agov(['run-status', runId, '--json'], { NATS_URL: rig.nats.url, NATS_CREDS: creds });
    expect(JSON.parse(status.stdout)).toMatchObject({ runId, status: 'succeeded' });
    const runs = await agov(['runs'], { NATS_URL: rig.nats.url, NATS_CREDS: creds });
    expect(runs.stdout).toContain(runId);
  });
});
