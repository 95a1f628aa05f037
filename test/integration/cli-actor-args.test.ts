import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGOV = join(ROOT, 'cli/agov.mjs');
/** Nothing listens here: a start that got as far as connecting would fail differently (and later). */
const NO_SERVER = 'nats://127.0.0.1:1';

function agov(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [AGOV, ...args],
      { cwd: ROOT, env: { ...process.env, NATS_URL: NO_SERVER, ...env }, timeout: 60_000 },
      (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

describe('agov actor start arguments', () => {
  it('fails at start with a typed configuration error naming a bad option, before connecting anywhere', async () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['actor', 'gateway', '--id', 'g1', '--arg', 'port=eighty'], {}, 'port'],
      [['actor', 'orchestrator', '--id', 'o1', '--arg', 'sweepIntervalMs=soon'], {}, 'sweepIntervalMs'],
      [['actor', 'ledger-writer', '--id', 'l1', '--arg', 'synchronous=SOMETIMES'], {}, 'synchronous'],
      // From the environment, the same check: AGOV_HTTP_PORT is the gateway's `port`.
      [['actor', 'gateway', '--id', 'g1'], { AGOV_HTTP_PORT: '99999' }, 'port'],
      // A misspelt option is not silently ignored.
      [['actor', 'echo', '--id', 'e1', '--arg', 'colour=blue'], {}, 'colour'],
    ];
    const results = await Promise.all(cases.map(([args, env]) => agov(args, env)));
    results.forEach(({ code, stderr }, i) => {
      const option = cases[i]![2];
      expect(code, option).toBe(2);
      expect(stderr, option).toMatch(/^agov: error\[GOV_ERR_CONFIG\]: actor kind [a-z-]+: option /);
      expect(stderr, option).toContain(`option ${option}`);
      expect(stderr, option).not.toMatch(/NaN|CONNECTION_REFUSED|ECONNREFUSED/);
    });
  });

  it('names a required option that is missing', async () => {
    const { code, stderr } = await agov(['actor', 'budget-monitor', '--id', 'b1'], { REDIS_URL: '' });
    expect(code).toBe(2);
    expect(stderr).toContain('option redisUrl');
  });
});
