import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DIAGNOSTIC_CODES,
  type Diagnostic,
  type DiagnosticCode,
  formatDiagnostic,
  parsePipeline,
  validateFiles,
} from '../../protocols/pipeline/index.ts';

const brokenDir = fileURLToPath(new URL('../../examples/broken/', import.meta.url));
const brokenFiles = readdirSync(brokenDir).filter((f) => f.endsWith('.yaml'));

function expectation(text: string): { code: string; line: number; column: number } {
  const m = /^# expect: ([a-z-]+) (\d+):(\d+)/.exec(text);
  if (!m) throw new Error('broken example without an "# expect: <code> <line>:<column>" first line');
  return { code: m[1] as string, line: Number(m[2]), column: Number(m[3]) };
}

function diagnose(text: string): Diagnostic[] {
  const r = parsePipeline(text, 'p.yaml');
  expect(r.ok).toBe(false);
  return r.diagnostics;
}

describe('broken examples', () => {
  it.each(brokenFiles)('%s reports exactly the error its first line expects', (name) => {
    const text = readFileSync(join(brokenDir, name), 'utf8');
    const want = expectation(text);
    const r = parsePipeline(text, `examples/broken/${name}`);
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => ({ code: d.code, line: d.line, column: d.column }))).toEqual([want]);
    expect(r.diagnostics[0]?.file).toBe(`examples/broken/${name}`);
    expect(r.diagnostics[0]?.message.length).toBeGreaterThan(10);
  });

  it('covers every diagnostic kind the validator reports from a file', () => {
    const codes = new Set(brokenFiles.map((f) => expectation(readFileSync(join(brokenDir, f), 'utf8')).code));
    // Not reported about a file's text: `io` (the file cannot be read) and `invalid-value`.
    const notFromText: DiagnosticCode[] = ['io', 'invalid-value'];
    const fromText = DIAGNOSTIC_CODES.filter((c) => !notFromText.includes(c));
    expect(fromText).toEqual(
      expect.arrayContaining([
        'yaml-syntax',
        'schema',
        'duplicate-stage',
        'unknown-stage',
        'unknown-template',
        'cycle',
      ]),
    );
    expect(fromText).toEqual(
      expect.arrayContaining([
        'tier-not-allowed',
        'unknown-parameter',
        'missing-parameter',
        'parameter-type',
        'bad-interpolation',
      ]),
    );
    for (const code of fromText) expect(codes).toContain(code);
  });
});

describe('diagnostics', () => {
  it('reports every problem of a file, not just the first', () => {
    const ds = diagnose(`name: many
version: 1
stages:
  - id: a
    needs: [nope]
    task: { kind: noop }
  - id: a
    task: { kind: noop }
  - id: b
    agent: { tier: T0 }
    task: { kind: http, method: GET, url: "http://x" }
  - id: c
    task: { kind: nap }
  - id: d
    needs: [c]
    task: { kind: fail, message: "\${{ params.who }}" }
`);
    expect(ds.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      '5:13 unknown-stage',
      '7:9 duplicate-stage',
      '10:20 tier-not-allowed',
      '13:19 schema',
      '16:35 unknown-parameter',
    ]);
  });

  it('does not call a need unknown when it names a stage that failed the schema', () => {
    const ds = diagnose(`name: p
version: 1
stages:
  - id: a
    task: { kind: sleep }
  - id: b
    needs: [a]
    task: { kind: noop }
`);
    expect(ds.map((d) => d.code)).toEqual(['schema']);
    expect(ds[0]?.message).toContain('missing required field "ms"');
  });

  it('names the cycle path and reports each cycle once', () => {
    const ds = diagnose(`name: p
version: 1
stages:
  - { id: a, needs: [b], task: { kind: noop } }
  - { id: b, needs: [a], task: { kind: noop } }
  - { id: c, needs: [c], task: { kind: noop } }
`);
    expect(ds.map((d) => d.message)).toEqual([
      'needs form a cycle: a -> b -> a',
      'needs form a cycle: c -> c',
    ]);
    expect(ds.map((d) => `${d.line}:${d.column}`)).toEqual(['4:22', '6:22']);
  });

  it('points an unknown field at its key and a missing field at its map', () => {
    const ds = diagnose(`name: p
version: 1
stages:
  - id: a
    task: { kind: noop }
    retry: { max: 2 }
  - task: { kind: noop }
`);
    expect(ds).toMatchObject([
      { line: 6, column: 5, code: 'schema', message: 'stages[0]: unknown field "retry"' },
      { line: 7, column: 5, code: 'schema', message: 'stages[1]: missing required field "id"' },
    ]);
  });

  it('reports each YAML syntax error with its position', () => {
    const ds = diagnose('name: p\nversion: 1\nname: q\nstages: [\n');
    expect(ds.every((d) => d.code === 'yaml-syntax')).toBe(true);
    expect(ds[0]).toMatchObject({ line: 3, column: 1 });
    expect(ds.length).toBeGreaterThanOrEqual(2);
  });

  it('suggests the closest stage id for a misspelt need', () => {
    const ds = diagnose(`name: p
version: 1
stages:
  - { id: compile, task: { kind: noop } }
  - { id: test, needs: [compiel], task: { kind: noop } }
`);
    expect(ds[0]?.message).toContain('did you mean "compile"?');
  });

  it('rejects a number field that mixes a reference with text', () => {
    const ds = diagnose(`name: p
version: 1
parameters: { n: { type: number, default: 1 } }
stages:
  - { id: a, task: { kind: sleep, ms: "\${{ params.n }}0}}" } }
`);
    expect(ds.map((d) => d.code)).toEqual(['bad-interpolation']);
  });

  it('checks the type of a parameter default', () => {
    const ds = diagnose(`name: p
version: 1
parameters: { n: { type: number, default: "five" } }
stages: [{ id: a, task: { kind: noop } }]
`);
    expect(ds).toMatchObject([{ code: 'parameter-type', line: 3, column: 43 }]);
  });
});

describe('formatDiagnostic', () => {
  it('renders file:line:column: error[code]: message', () => {
    expect(
      formatDiagnostic({
        file: 'a.yaml',
        line: 3,
        column: 7,
        code: 'cycle',
        message: 'needs form a cycle: a -> a',
      }),
    ).toBe('a.yaml:3:7: error[cycle]: needs form a cycle: a -> a');
  });
});

describe('validateFiles', () => {
  it('passes good files and collects the diagnostics of bad and unreadable ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pipeline-validate-'));
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(good, 'name: g\nversion: 1\nstages: [{ id: a, task: { kind: noop } }]\n');
    writeFileSync(bad, 'name: b\nversion: 1\nstages: [{ id: a, needs: [z], task: { kind: noop } }]\n');
    expect(await validateFiles([good])).toEqual({ ok: true, diagnostics: [] });
    const r = await validateFiles([good, bad, join(dir, 'missing.yaml')]);
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${bad}:3:27: error[unknown-stage]: "z" is not a stage or template instance here`,
      `${join(dir, 'missing.yaml')}:1:1: error[io]: cannot read file (ENOENT)`,
    ]);
  });
});
