import { parseArgs } from 'node:util';
import { formatReport, runScenario } from '../chaos/index.ts';
import { SCENARIOS, scenario } from '../chaos/index.ts';
import { ConfigError } from '../protocols/index.ts';

/**
 * `agov chaos list` and `agov chaos run SCENARIO [--seed N] [--duration MS] [--runs N] [--json]`:
 * starts a whole system from nothing, injects the scenario's faults while pipelines run, and prints
 * what was injected, what recovered and how fast, and the invariant verdicts. Exit 0 only if all hold.
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
    },
  });
  const [sub, name] = positionals;
  if (sub === 'list') {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(22)} ${s.description}\n`);
    return 0;
  }
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
