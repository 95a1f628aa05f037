import { parseArgs } from 'node:util';
import { formatReport, runScenario } from '../chaos/index.ts';
import { SCENARIOS, scenario } from '../chaos/index.ts';
import { ConfigError } from '../protocols/index.ts';

/**
 * `agov chaos list` and `agov chaos run SCENARIO [--seed N] [--duration MS] [--runs N] [--json]`:
 * starts a whole system from nothing, injects the scenario's faults while pipelines run, and prints
 * what was injected, what recovered and how fast, and the invariant verdicts. Exit 0 only if all hold.
 *
 * `agov chaos sweep [--duration MS] [--seeds 1,2,3] [--scenarios a,b]`: every scenario (or the named
 * ones) for every seed, one after another, each with its CLI defaults but the duration; one line per
 * run as it ends, then a summary. `npm run chaos:long` is the long sweep (docs/testing.md).
 */
export async function commandChaos(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seed: { type: 'string' },
      duration: { type: 'string' },
      runs: { type: 'string' },
      json: { type: 'boolean' },
      seeds: { type: 'string' },
      scenarios: { type: 'string' },
    },
  });
  const [sub, name] = positionals;
  if (sub === 'list') {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(22)} ${s.description}\n`);
    return 0;
  }
  if (sub === 'sweep') return sweep(values);
  const sc = name ? scenario(name) : undefined;
  if (sub !== 'run' || !sc)
    throw new ConfigError(
      `usage: agov chaos run <${SCENARIOS.map((s) => s.name).join('|')}> [--seed N] [--duration MS] [--runs N]`,
    );
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const report = await runScenario(sc, {
    seed: num(values.seed),
    durationMs: num(values.duration),
    runs: num(values.runs),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
  return report.ok ? 0 : 1;
}

async function sweep(values: { duration?: string; seeds?: string; scenarios?: string }): Promise<number> {
  const durationMs = values.duration === undefined ? undefined : Number(values.duration);
  const seeds = (values.seeds ?? '1,2,3').split(',').map(Number);
  const names = values.scenarios ? values.scenarios.split(',') : SCENARIOS.map((s) => s.name);
  const rows: string[] = [];
  let failed = 0;
  for (const n of names) {
    const sc = scenario(n);
    if (!sc) throw new ConfigError(`no chaos scenario ${n}`);
    for (const seed of seeds) {
      const t0 = Date.now();
      const report = await runScenario(sc, {
        seed,
        ...(durationMs === undefined ? {} : { durationMs }),
        log: (l) => process.stderr.write(`${l}\n`),
      }).catch((err: unknown) => ({ scenario: n, seed, ok: false, error: String(err) }) as const);
      const s = Math.round((Date.now() - t0) / 1000);
      let row: string;
      if ('error' in report) row = `${n} seed ${seed}: ERROR ${report.error} (${s} s)`;
      else {
        const faults = report.injected.filter((i) => i.delivered).length;
        const runs = Object.entries(report.runs)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ');
        const bad = report.invariants.filter((i) => !i.ok).map((i) => `${i.name}: ${i.detail}`);
        row = `${n} seed ${seed}: ${report.ok ? 'PASS' : 'FAIL'} — ${faults} faults, runs ${runs} (${s} s)${bad.length ? ` — ${bad.join('; ')}` : ''}`;
        if (!report.ok) process.stderr.write(`${formatReport(report)}\n`);
      }
      if (!report.ok) failed++;
      rows.push(row);
      process.stdout.write(`${row}\n`);
    }
  }
  process.stdout.write(
    `\nsweep: ${rows.length - failed}/${rows.length} passed (duration ${durationMs ?? 'default'} ms, seeds ${seeds.join(',')})\n`,
  );
  return failed === 0 ? 0 : 1;
}
