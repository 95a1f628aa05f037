/**
 * The curl examples of docs/http-api.md are executed (issue 16, "the docs' examples are executed by
 * tests"): every `curl` line of a ```sh block is run, in the doc's order, with the real curl binary
 * against one real system (NATS, agents, gateway). Only the doc's placeholders are replaced (`$GW`,
 * `$KEY` of the section's tier, `$T2_KEY`, the run id `4f1c…`, the report id `h-1`); the answer must
 * have the documented status and every documented key (nested ones too). A wrong route or field in the doc
 * fails here: fix the doc.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTeams, type RunningSystem, startSystem } from '../../system/index.ts';
import { systemGatewayUrl, waitFor } from '../harness/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/http-api.md'), 'utf8');

// The doc's agent `ag-3` of team `core` exists for real, so its agent examples need no substitution.
// `ag-3` is quarantined by the violation example: `ag-4` serves the diagnostic run after it; `spare-1`
// serves the run whose exhausted budget gives the handoff report, so the doc's agents stay untouched.
const TEAMS = `
teams:
  - id: core
    members:
      - { id: ag-3, tier: T1, role: builder }
  - id: diag
    members:
      - { id: ag-4, tier: T1, role: builder }
  - id: spare
    members:
      - { id: spare-1, tier: T1, role: builder }
`;
const SPARE_RUN = `name: exhausted
version: 1
stages:
  - { id: a, task: { kind: noop }, agent: { team: spare } }
errorBudget:
  maxErrors: 3
  windowMs: 60000
`;
// Key names match the doc's answers (`api:ci:…`, `gateway-gateway-1/ops`).
const KEYS = { T0: 'viewer-key-0123456789', T1: 'ci-key-0123456789abc', T2: 'ops-key-0123456789ab' };
const KEY_NAMES = { T0: 'viewer', T1: 'ci', T2: 'ops' };

interface Documented {
  status: number;
  /** The documented answer (undefined: not JSON, e.g. Prometheus text). */
  shape?: unknown;
}
interface Example {
  section: string;
  tier: 'T0' | 'T1' | 'T2' | undefined;
  command: string;
  expected: Documented;
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, bin)));
}
const MISSING = ['curl', 'jq', 'bash'].filter((b) => !onPath(b));

/**
 * A documented JSON answer as a value: the doc elides with `…` (`[ … ]`, `{ … }`, `, … }`), which
 * become empty arrays/objects, so what remains is the shape every real answer must have.
 */
function documentedShape(text: string): unknown {
  const json = text
    .replace(/\[\s*…\s*\]/g, '[]')
    .replace(/\{\s*…?\s*\}/g, '{}')
    .replace(/,\s*…\s*(?=[}\]])/g, '');
  return JSON.parse(json);
}

/** Where `got` lacks a key that `doc` shows: each documented key, and in arrays the first element's. */
function missingKeys(doc: unknown, got: unknown, at = ''): string[] {
  if (Array.isArray(doc)) {
    if (!Array.isArray(got)) return [`${at} (not an array)`];
    if (doc.length === 0 || got.length === 0) return [];
    return got.flatMap((g, i) => missingKeys(doc[0], g, `${at}[${i}]`));
  }
  if (doc === null || typeof doc !== 'object') return [];
  if (got === null || typeof got !== 'object' || Array.isArray(got)) return [`${at} (not an object)`];
  return Object.entries(doc).flatMap(([k, v]) =>
    k in got ? missingKeys(v, (got as Record<string, unknown>)[k], `${at}.${k}`) : [`${at}.${k}`],
  );
}

/** The answers of a ```json/```text block: each starts with its status at the start of a line. */
function parseAnswers(block: string): Documented[] {
  const answers: { status: number; text: string }[] = [];
  for (const line of block.split('\n')) {
    const m = /^(\d{3}) (.*)$/.exec(line);
    if (m) answers.push({ status: Number(m[1]), text: m[2]! });
    else if (answers.length > 0) answers[answers.length - 1]!.text += `\n${line}`;
  }
  return answers.map((a) => ({ status: a.status, shape: documentedShape(a.text) }));
}

/** Every curl command of the doc with the answer documented next to it. */
function extractExamples(doc: string): Example[] {
  const examples: Example[] = [];
  let section = '';
  const blocks = [...doc.matchAll(/^(#{2,3} .*)$|^```(\w+)\n([\s\S]*?)^```$/gm)];
  for (let b = 0; b < blocks.length; b++) {
    const [, heading, lang, body] = blocks[b]!;
    if (heading) {
      section = heading.replace(/^#+ /, '');
      continue;
    }
    if (lang !== 'sh') continue;
    const commands = body!
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .filter((l) => l.startsWith('curl '));
    if (commands.length === 0) continue;
    const next = blocks[b + 1];
    const answers = next && !next[1] && next[2] !== 'sh' ? parseAnswers(next[3]!) : [];
    if (answers.length === 0 && next?.[2] === 'text') answers.push({ status: 200 });
    const tier = /\((T[012])\b/.exec(section)?.[1] as Example['tier'];
    commands.forEach((command, i) => {
      // One answer per command when the counts match; else the first answer is the documented one.
      const expected = answers.length === commands.length ? answers[i] : answers[0];
      if (!expected) throw new Error(`no documented answer for: ${command}`);
      examples.push({ section, tier, command, expected });
    });
  }
  return examples;
}

interface Answer {
  status: number;
  body: string;
}

function runCurl(command: string, env: Record<string, string>): Promise<Answer> {
  // `-w` after the doc's own arguments: curl prints the status after the body.
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['-c', `${command} -w '\\n%{http_code}'`],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${command} failed: ${err.message} ${stderr}`));
        const at = stdout.lastIndexOf('\n');
        resolve({ status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) });
      },
    );
  });
}

/** Fails unless the answer has the documented status and, for JSON, every documented top-level key. */
function checkAnswer(ex: Example, got: Answer): void {
  const where = `${ex.section}: ${ex.command}\n→ ${got.status} ${got.body.slice(0, 500)}`;
  expect(got.status, where).toBe(ex.expected.status);
  if (ex.expected.shape === undefined) {
    expect(got.body.length, where).toBeGreaterThan(0);
    return;
  }
  expect(missingKeys(ex.expected.shape, JSON.parse(got.body)), where).toEqual([]);
}

const EXAMPLES = extractExamples(DOC);

let sys: RunningSystem;
let dir: string;
let gw: string;
const ids = { run: '', report: '' };

async function http(method: string, path: string, tier: keyof typeof KEYS, body?: unknown) {
  const res = await fetch(`${gw}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${KEYS[tier]}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function substitute(command: string): string {
  return command.replaceAll('4f1c…', ids.run).replaceAll('h-1', ids.report);
}

describe('the extraction of docs/http-api.md', () => {
  it('finds every route example with a documented answer', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(15);
    for (const route of [
      'POST $GW/api/pipelines ',
      '$GW/api/pipelines?',
      '$GW/api/pipelines/4f1c…',
      '$GW/api/pipeline/token',
      'POST $GW/api/pipeline/errors',
      '$GW/api/pipeline/errors?runId=',
      '$GW/api/observability/handoff?runId=',
      '$GW/api/observability/handoff?reportId=',
      'POST $GW/api/observability/handoff',
      '$GW/api/observability/diagnostic',
      '$GW/api/agents?team=',
      '$GW/api/agents/ag-3 ',
      '$GW/api/agents/ag-3/release',
      '$GW/health',
      '$GW/metrics',
    ])
      expect(
        EXAMPLES.some((e) => e.command.includes(route)),
        route,
      ).toBe(true);
  });

  it('reads the shape of an elided answer and finds what a real answer lacks', () => {
    const doc = documentedShape('{ "a": 1, "b": [{ "c": "…" }], "d": { "e": { … }, … }, "f": [ … ] }');
    expect(missingKeys(doc, { a: 2, b: [{ c: 'x' }], d: { e: {} }, f: [] })).toEqual([]);
    expect(missingKeys(doc, { a: 2, b: [{ c: 'x' }, {}], d: {} })).toEqual(['.b[1].c', '.d.e', '.f']);
  });
});

describe.skipIf(MISSING.length > 0)(
  `the curl examples of docs/http-api.md against a running system${MISSING.length ? ` (skipped: ${MISSING.join(', ')} not installed)` : ''}`,
  () => {
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'agov-http-docs-'));
      sys = await startSystem({
        dataDir: dir,
        teams: parseTeams(TEAMS, 'http-docs-teams'),
        serviceArgs: {
          gateway: {
            port: 0,
            apiKeys: (['T0', 'T1', 'T2'] as const).map((t) => `${KEY_NAMES[t]}:${t}:${KEYS[t]}`),
          },
        },
        localApiKeys: false,
      });
      gw = await systemGatewayUrl(sys);
      await waitFor(
        'every agent idle',
        async () => {
          const r = await http('GET', '/api/agents', 'T0');
          const agents = (r.json.agents ?? []) as { state: string }[];
          return agents.length === 3 && agents.every((a) => a.state === 'idle');
        },
        60_000,
      );
      // A real handoff report for `h-1`: a run whose error budget (3) is exhausted by reported errors.
      const started = await http('POST', '/api/pipelines', 'T1', { yaml: SPARE_RUN });
      expect(started.status).toBe(202);
      const exhausted = started.json.runId as string;
      // Reports that reach the budget monitor before it has read the run's `run-accepted` count against
      // the default budget (docs/governance.md, Limits): keep reporting until the report is there.
      await waitFor(
        'a handoff report',
        async () => {
          const sent = await http('POST', '/api/pipeline/errors', 'T2', {
            runId: exhausted,
            outcome: 'error',
            code: 'DOCS',
            message: 'exhausting the budget',
          });
          if (sent.status !== 202 && sent.status !== 409) throw new Error(`error report: ${sent.status}`);
          const r = await http('GET', `/api/observability/handoff?runId=${exhausted}`, 'T0');
          const reports = (r.json.reports ?? []) as { reportId: string }[];
          ids.report = reports[0]?.reportId ?? '';
          return ids.report !== '';
        },
        60_000,
        250,
      );
    }, 240_000);

    afterAll(async () => {
      await sys?.kill();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    // In the doc's order: the first example starts the run (`4f1c…`) the later ones act on.
    it.each(EXAMPLES.map((e, i) => [i + 1, e.section, e] as const))(
      'example %i (%s) answers as documented',
      async (_n, _s, ex) => {
        const env: Record<string, string> = { GW: gw, T2_KEY: KEYS.T2 };
        if (ex.tier) env.KEY = KEYS[ex.tier];
        const got = await runCurl(substitute(ex.command), env);
        checkAnswer(ex, got);
        if (ex.command.includes('POST $GW/api/pipelines ')) {
          ids.run = JSON.parse(got.body).runId;
          // The doc's later answers show this run finished (`finishedAt`).
          await waitFor(
            'the run finished',
            async () => {
              const r = await http('GET', `/api/pipelines/${ids.run}`, 'T0');
              return r.json.status === 'succeeded';
            },
            30_000,
          );
        }
      },
      30_000,
    );

    it('fails an example whose route the doc got wrong', async () => {
      const ex = EXAMPLES.find((e) => e.command.includes('$GW/api/pipelines?'))!;
      const wrong = { ...ex, command: ex.command.replace('/api/pipelines?', '/api/pipeline?') };
      const got = await runCurl(wrong.command, { GW: gw, KEY: KEYS.T0 });
      expect(() => checkAnswer(wrong, got)).toThrow();
    });
  },
);
