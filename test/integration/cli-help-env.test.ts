import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/commands.ts';
import { CONNECTION_FILE } from '../../cli/connection-file.ts';
import { freePort } from '../../infra/free-port.ts';
import { waitFor } from '../harness/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGOV = join(ROOT, 'cli/agov.mjs');

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['NATS_URL', 'NATS_CREDS', 'REDIS_URL', 'VAULT_ADDR', 'VAULT_TOKEN', 'AGOV_DATA_DIR'])
    delete env[k];
  return { ...env, ...extra };
}

function agov(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [AGOV, ...args],
      { cwd: ROOT, env: cleanEnv(env), timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('agov --help', () => {
  it('lists every command with its one line and exits 0, as `agov help` and `-h` do', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = await agov([flag]);
      expect(r.code).toBe(0);
      for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c.name} +\\S`, 'm'));
    }
  });

  it('answers `agov <command> --help` for every command without running it', async () => {
    // Run against an empty environment: a command that ran instead of helping would fail (no NATS_URL,
    // no file) or start a system; help exits 0 with text naming the command.
    const results = await Promise.all(COMMANDS.map((c) => agov([c.name, '--help'])));
    results.forEach((r, i) => {
      expect(r.stderr, COMMANDS[i]!.name).toBe('');
      expect(r.code, COMMANDS[i]!.name).toBe(0);
      expect(r.stdout, COMMANDS[i]!.name).toContain(`agov ${COMMANDS[i]!.name}`);
    });
    const short = await agov(['run', 'examples/hello.yaml', '-h']);
    expect(short.code).toBe(0);
    expect(short.stdout).toContain('agov run FILE');
  }, 120_000);

  it('refuses an unknown command with exit 2 and the list', async () => {
    const r = await agov(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(r.stderr).toContain('  env ');
  });
});

describe('agov up writes a connection file; agov env lets a second shell drive the system', () => {
  it('exports NATS_URL and the HTTP URL of the running system, and goes away when it stops', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agov-env-'));
    dirs.push(dataDir);
    const port = await freePort();
    const none = await agov(['env'], { AGOV_DATA_DIR: dataDir });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no running system');

    const up = spawn(process.execPath, [AGOV, 'up'], {
      cwd: ROOT,
      env: cleanEnv({ AGOV_DATA_DIR: dataDir, AGOV_HTTP_PORT: String(port) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    up.stdout.on('data', (b) => (output += b));
    up.stderr.on('data', (b) => (output += b));
    const exited = new Promise<number | null>((r) => up.on('exit', (code) => r(code)));
    try {
      await waitFor('the connection file', () => existsSync(join(dataDir, CONNECTION_FILE)), 90_000, 100);
      const env = await agov(['env', '--data-dir', dataDir]);
      expect(env.code).toBe(0);
      const exported = Object.fromEntries(
        [...env.stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]),
      );
      expect(exported.NATS_URL).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      expect(exported.AGOV_HTTP_URL).toBe(`http://127.0.0.1:${port}`);
      expect(exported.AGOV_DATA_DIR).toBe(dataDir);
      // No API keys were configured, so agov up generated the local ones beside its data: one key per
      // tier, readable by the owner only, and the gateway it started authenticates with them.
      const keysFile = exported.AGOV_API_KEYS_FILE!;
      expect(keysFile).toBe(join(dataDir, 'api-keys'));
      expect(statSync(keysFile).mode & 0o777).toBe(0o600);
      const keys = new Map(
        [...readFileSync(keysFile, 'utf8').matchAll(/^(\w+):(T[012]):(\S+)$/gm)].map((m) => [m[2]!, m[3]!]),
      );
      expect([...keys.keys()].sort()).toEqual(['T0', 'T1', 'T2']);
      const agents = (key?: string) =>
        fetch(`${exported.AGOV_HTTP_URL}/api/agents`, {
          headers: key ? { authorization: `Bearer ${key}` } : {},
        });
      expect((await agents(keys.get('T2'))).status).toBe(200);
      expect((await agents()).status).toBe(401);
      expect((await agents(`${keys.get('T2')}x`)).status).toBe(401);

      // A second shell: only what `agov env` printed.
      const teams = await agov(['teams', '--json'], {
        NATS_URL: exported.NATS_URL,
        NATS_CREDS: exported.NATS_CREDS,
      });
      expect(teams.code).toBe(0);
      expect(JSON.parse(teams.stdout).supervisorId).toBe('root');
      // The data folder alone: the running system's orchestrator answers over the bus, with the
      // credential its connection file names (no second nats-server is started on the folder).
      const runs = await agov(['runs', '--json'], { AGOV_DATA_DIR: dataDir });
      expect(runs.stderr).toBe('');
      expect(runs.code).toBe(0);
      expect(Array.isArray(JSON.parse(runs.stdout))).toBe(true);
      const health = await fetch(`${exported.AGOV_HTTP_URL}/health`);
      expect(health.status).toBeLessThan(500);
    } finally {
      up.kill('SIGTERM');
      expect(await exited, output).toBe(0);
    }
    expect(existsSync(join(dataDir, CONNECTION_FILE))).toBe(false);
  }, 150_000);
});
