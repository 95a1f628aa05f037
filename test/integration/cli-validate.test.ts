import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGOV = join(ROOT, 'cli/agov.mjs');

function agov(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [AGOV, ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const broken = readdirSync(join(ROOT, 'examples/broken'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => {
    const file = `examples/broken/${f}`;
    const m = /^# expect: (\S+) (\d+):(\d+)/.exec(readFileSync(join(ROOT, file), 'utf8'));
    if (!m) throw new Error(`${file} has no "# expect:" line`);
    return { file, code: m[1]!, line: Number(m[2]), column: Number(m[3]) };
  });

describe('agov validate (as a process)', () => {
  it('reports every broken example at its expected location and exits 1', async () => {
    expect(broken.length).toBeGreaterThanOrEqual(10);
    const r = await agov(['validate', ...broken.map((b) => b.file)]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    for (const b of broken) {
      const prefix = `${b.file}:${b.line}:${b.column}: error[${b.code}]: `;
      expect(
        lines.some((l) => l.startsWith(prefix)),
        `${prefix} in:\n${r.stdout}`,
      ).toBe(true);
    }
    expect(r.stderr).toContain(`error(s) in ${broken.length} file(s)`);
  });

  it('accepts the shipped examples and exits 0', async () => {
    const files = readdirSync(join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `examples/${f}`);
    const r = await agov(['validate', ...files]);
    expect(r.stdout.trim().split('\n').sort()).toEqual(files.map((f) => `${f}: ok`).sort());
    expect(r.code).toBe(0);
  });

  it('reports an unreadable file as an io error at 1:1', async () => {
    const r = await agov(['validate', 'examples/no-such-file.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('examples/no-such-file.yaml:1:1: error[io]: cannot read file (ENOENT)');
  });
});
