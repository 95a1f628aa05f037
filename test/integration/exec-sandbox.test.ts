/**
 * The exec sandbox as an attacker sees it: real bwrap + prlimit processes, a task trying to reach
 * what it must not (data directory, keys, other tasks' directories, a system process's memory, the
 * network, the host's files) and to outlive its task.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxSettings } from '../../actors/agent/tasks/sandbox.ts';
import { runExec, type TaskOutcome, type TaskRunContext } from '../../actors/agent/tasks/index.ts';
import { systemClock } from '../../infra/clock/clock.ts';
import { vaultKeyringFile } from '../../infra/services.ts';
import { startVaultDevServer, type VaultDevServer } from '../../infra/vault/dev-server.ts';
import { createTransitSigner } from '../../actors/ledger/transit-signer.ts';
import type { Tier } from '../../protocols/vocabulary/tiers.ts';
import { TestServers } from '../harness/index.ts';

const servers = new TestServers();
let dataDir: string;
let sandboxDir: string;
let tcp: Server;
let port: number;
let vault: VaultDevServer;
let keyring: string;

const settings = (over: Partial<SandboxSettings> = {}): SandboxSettings => ({
  mode: 'bwrap',
  uid: 65534,
  gid: 65534,
  root: sandboxDir,
  limits: { maxProcesses: 256, maxMemoryBytes: 4 * 2 ** 30, maxFileBytes: 1024 * 1024 },
  ...over,
});

const warnings: string[] = [];
function ctx(over: Partial<TaskRunContext> = {}): TaskRunContext {
  return {
    agentId: 'a1',
    tier: 'T1',
    taskId: `t-${Math.random().toString(36).slice(2)}`,
    signal: new AbortController().signal,
    env: { PIPELINE_ID: 'run-1' },
    agentEnv: {},
    workDir: dataDir,
    keepTaskDirs: false,
    sandbox: settings(),
    warn: (m) => warnings.push(m),
    killGraceMs: 500,
    httpMaxBodyBytes: 1000,
    clock: systemClock,
    progress: () => {},
    ...over,
  };
}

function exec(
  command: string[],
  opts: { timeoutMs?: number; network?: boolean; tier?: Tier; ctx?: Partial<TaskRunContext> } = {},
): Promise<TaskOutcome & { output?: { exitCode: number | null; stdout: string; stderr: string } }> {
  return runExec(
    {
      kind: 'exec',
      command,
      env: { pass: [], set: {} },
      timeoutMs: opts.timeoutMs ?? 10_000,
      maxOutputBytes: 100_000,
      network: opts.network ?? false,
    },
    ctx({ tier: opts.tier ?? 'T1', ...opts.ctx }),
  ) as never;
}

/** Processes on the host whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) {
        out.push(Number(pid));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

beforeAll(async () => {
  dataDir = servers.tempDir('agov-sandbox-data-');
  sandboxDir = servers.tempDir('agov-sandbox-root-');
  const { chmodSync } = await import('node:fs');
  chmodSync(sandboxDir, 0o711);
  writeFileSync(join(dataDir, 'api-keys'), 'admin:T2:super-secret-admin-key-0123456789\n');
  writeFileSync(join(dataDir, 'ledger-key.pem'), '-----BEGIN PRIVATE KEY-----\nxyz\n');
  // The ledger's signing key where agov up keeps it: the embedded Vault's transit keyring beside the
  // data directory, written by the real dev server when the key is created.
  keyring = vaultKeyringFile(dataDir);
  vault = await startVaultDevServer({ transitKeyringFile: keyring });
  await createTransitSigner({
    addr: vault.addr,
    token: vault.rootToken,
    transitKey: 'agov-ledger',
    keyName: 'agov.test/ledger',
    create: true,
  });
  tcp = createServer((s) => s.end('hello from the host\n'));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  port = (tcp.address() as { port: number }).port;
});
afterAll(async () => {
  tcp.close();
  await vault?.stop();
  await servers.stopAll();
});

describe('exec sandbox (bubblewrap, as an unprivileged user)', () => {
  it('runs as the unprivileged sandbox user in /work, with only system directories and its own /proc', async () => {
    const r = await exec(['sh', '-c', 'id -u; id -g; pwd; ls /; ls /proc | grep -E "^[0-9]+$" | wc -l']);
    expect(r.status).toBe('succeeded');
    const [uid, gid, pwd, ...rest] = r.output!.stdout.trim().split('\n');
    expect({ uid, gid, pwd }).toEqual({ uid: '65534', gid: '65534', pwd: '/work' });
    const root = rest.slice(0, -1);
    for (const hidden of ['root', 'home', 'work-data', 'var', 'srv', 'opt'])
      expect(root).not.toContain(hidden);
    // Its own PID namespace: a handful of processes (bwrap's init, sh, ls, grep, wc), not the host's.
    expect(Number(rest.at(-1))).toBeLessThan(10);
  });

  it("cannot read the data directory, the keys (the ledger's transit keyring too), /root or a system process's memory and environment", async () => {
    expect(readFileSync(keyring, 'utf8')).toContain('agov-ledger'); // premise: the key is in that file
    const targets = [
      join(dataDir, 'api-keys'),
      join(dataDir, 'ledger-key.pem'),
      keyring,
      '/root/.bashrc',
      `/proc/${process.pid}/mem`,
      `/proc/${process.pid}/environ`,
      '/etc/shadow',
      '/etc/passwd',
    ];
    const r = await exec([
      'sh',
      '-c',
      `for f in ${targets.join(' ')}; do if cat "$f" >/dev/null 2>&1; then echo "READ $f"; else echo "denied $f"; fi; done`,
    ]);
    expect(r.status).toBe('succeeded');
    for (const t of targets) expect(r.output!.stdout).toContain(`denied ${t}`);
    expect(r.output!.stdout).not.toContain('READ');
    expect(r.output!.stdout).not.toContain('super-secret');
    expect(r.output!.stdout).not.toContain('agov-ledger');
  });

  it('cannot write outside its directory; /tmp is private and gone afterwards', async () => {
    const marker = `agov-private-${process.pid}-${Date.now()}`;
    const r = await exec([
      'sh',
      '-c',
      `for f in /usr/x /bin/x /etc/x /x ${dataDir}/x; do if touch "$f" 2>/dev/null; then echo "WROTE $f"; fi; done; ` +
        `touch /tmp/${marker} && echo tmp-ok; echo data > /work/mine && echo work-ok; cd / && touch escaped 2>/dev/null && echo ESCAPED; true`,
    ]);
    expect(r.status).toBe('succeeded');
    expect(r.output!.stdout).not.toMatch(/WROTE|ESCAPED/);
    expect(r.output!.stdout).toContain('tmp-ok');
    expect(r.output!.stdout).toContain('work-ok');
    expect(existsSync(join('/tmp', marker))).toBe(false);
    expect(existsSync(join(tmpdir(), marker))).toBe(false);
    expect(existsSync(join(dataDir, 'x'))).toBe(false);
  });

  it("cannot see or reach another task's directory", async () => {
    const keep = await exec(['sh', '-c', 'echo other-task-secret > notes; true'], {
      ctx: { keepTaskDirs: true, taskId: 'keeper' },
    });
    expect(keep.status).toBe('succeeded');
    const kept = readdirSync(sandboxDir).find((d) => d.startsWith('keeper-'));
    expect(kept).toBeDefined();
    const hostPath = join(sandboxDir, kept!, 'notes');
    expect(readFileSync(hostPath, 'utf8')).toBe('other-task-secret\n');
    const r = await exec([
      'sh',
      '-c',
      `cat ${hostPath} 2>/dev/null && echo READ; ls ${sandboxDir} >/dev/null 2>&1 && echo LISTED; ls -A /work; true`,
    ]);
    expect(r.status).toBe('succeeded');
    expect(r.output!.stdout).toBe('');
  });

  it('has no network unless the task asks and its tier allows it', async () => {
    const probe = [
      'node',
      '-e',
      `require('net').connect(${port}, '127.0.0.1').on('data', (d) => { process.stdout.write('CONNECTED ' + d); process.exit(0); }).on('error', (e) => { process.stdout.write('no network: ' + e.code); process.exit(0); });`,
    ];
    const none = await exec(probe);
    expect(none.output!.stdout).toMatch(/^no network/);
    const refused = await exec(probe, { network: true, tier: 'T1' });
    expect(refused).toMatchObject({ status: 'failed', error: { code: 'GOV_ERR_TIER_FORBIDDEN' } });
    const allowed = await exec(probe, { network: true, tier: 'T2' });
    expect(allowed.output!.stdout).toBe('CONNECTED hello from the host\n');
  });

  it('leaves no process behind after the task exits or times out, setsid children included', async () => {
    const exitMarker = `98${process.pid}71`;
    const r = await exec([
      'sh',
      '-c',
      `setsid sleep ${exitMarker} >/dev/null 2>&1 & sleep ${exitMarker}1 & echo started`,
    ]);
    expect(r.status).toBe('succeeded');
    expect(processesWith(exitMarker)).toEqual([]);

    const timeoutMarker = `97${process.pid}13`;
    const t = await exec(
      ['sh', '-c', `trap '' TERM; setsid sleep ${timeoutMarker} >/dev/null 2>&1 & sleep ${timeoutMarker}1`],
      { timeoutMs: 500 },
    );
    expect(t).toMatchObject({ status: 'failed', error: { code: 'GOV_ERR_TIMEOUT' } });
    expect(processesWith(timeoutMarker)).toEqual([]);
  });

  it('enforces the file size and process limits', async () => {
    const big = await exec(['sh', '-c', 'head -c 2000000 /dev/zero > big; echo rc=$?; ls -l big']);
    expect(big.output!.stdout).not.toContain('rc=0');
    const limits = await exec(['cat', '/proc/self/limits'], {
      timeoutMs: 3_000,
      ctx: {
        sandbox: settings({
          limits: { maxProcesses: 77, maxMemoryBytes: 3 * 2 ** 30, maxFileBytes: 2 ** 20 },
        }),
      },
    });
    const line = (name: string) => limits.output!.stdout.split('\n').find((l) => l.startsWith(name)) ?? '';
    expect(line('Max processes')).toMatch(/\s77\s+77\s/);
    expect(line('Max file size')).toMatch(/\s1048576\s+1048576\s/);
    expect(line('Max address space')).toMatch(new RegExp(`\\s${3 * 2 ** 30}\\s+${3 * 2 ** 30}\\s`));
    expect(line('Max cpu time')).toMatch(/\s3\s+3\s/);
    expect(line('Max core file size')).toMatch(/\s0\s+0\s/);
  });

  it('refuses exec tasks with SandboxUnavailableError when the sandbox cannot start (fail closed)', async () => {
    const broken = settings({ root: join(dataDir, 'no-such-parent', 'deeper') });
    mkdirSync(join(dataDir, 'no-such-parent'), { mode: 0o700 });
    // The task root exists but the sandbox user cannot reach it: bwrap fails, so does the probe.
    const r = await exec(['sh', '-c', 'echo should-not-run'], { ctx: { sandbox: broken } });
    expect(r).toMatchObject({ status: 'failed', error: { code: 'GOV_ERR_SANDBOX_UNAVAILABLE' } });
    expect(r.output).toBeUndefined();
  });

  it('runs unsandboxed only with the explicit development switch, and says so at every task', async () => {
    warnings.length = 0;
    const r = await exec(['sh', '-c', 'id -u'], { ctx: { sandbox: settings({ mode: 'unsandboxed' }) } });
    expect(r.status).toBe('succeeded');
    expect(warnings.some((w) => w.includes('UNSANDBOXED'))).toBe(true);
  });
});
