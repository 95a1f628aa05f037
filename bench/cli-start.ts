/**
 * `npm run bench -- cli`: what an `agov` command that needs no running system costs to start, as
 * whole processes timed from outside (wall clock of `spawnSync`).
 *
 * Paired per round, in alternating order so the machine's drift falls on all alike:
 * - node: `node -e 0`, the floor any Node command pays;
 * - bundle: `node cli/agov.mjs <cmd>` with the bundle current (what users run after `npm run build`
 *   or a test run; infra/cli-bundle.mjs);
 * - source: the same command through tsx (what runs when the bundle is stale or missing).
 * Reported: medians per command and launcher; ratios bundle ÷ node and source ÷ bundle.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCliBundle } from '../cli/build-bundle.ts';
import { bundleIsCurrent, SOURCE_ENTRY } from '../infra/index.ts';
import { median, report, round } from './stats.ts';

const ROUNDS = 15;

export async function benchCli(): Promise<void> {
  if (!bundleIsCurrent()) buildCliBundle();
  const dataDir = mkdtempSync(join(tmpdir(), 'agov-bench-cli-'));
  // No NATS_URL: these are the commands that need no system.
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AGOV_DATA_DIR: dataDir };
  const commands: Record<string, string[]> = {
    help: ['--help'],
    validate: ['validate', 'examples/hello.yaml'],
    env: ['env', '--json'],
  };
  const time = (argv: string[]) => {
    const t0 = performance.now();
    spawnSync(process.execPath, argv, { env, stdio: 'ignore' });
    return performance.now() - t0;
  };
  const launchers: Record<string, (args: string[]) => string[]> = {
    bundle: (args) => [SOURCE_ENTRY, ...args],
    source: (args) => ['--import', 'tsx', join(SOURCE_ENTRY, '..', 'index.ts'), ...args],
  };
  const node: number[] = [];
  const samples: Record<string, number[]> = {};
  for (let i = 0; i < ROUNDS + 2; i++) {
    const order = i % 2 === 0 ? ['bundle', 'source'] : ['source', 'bundle'];
    const nodeMs = time(['-e', '0']);
    if (i >= 2) node.push(nodeMs); // two warm-up rounds
    for (const [name, args] of Object.entries(commands)) {
      for (const launcher of order) {
        const ms = time(launchers[launcher]!(args));
        if (i < 2) continue;
        const key = `${name}.${launcher}`;
        samples[key] = [...(samples[key] ?? []), ms];
      }
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
  const nodeP50 = median(node);
  const results: Record<string, unknown> = { rounds: ROUNDS, nodeP50Ms: round(nodeP50, 1) };
  const ratios: Record<string, number> = {};
  for (const name of Object.keys(commands)) {
    const bundle = median(samples[`${name}.bundle`]!);
    const source = median(samples[`${name}.source`]!);
    results[`${name}BundleP50Ms`] = round(bundle, 1);
    results[`${name}SourceP50Ms`] = round(source, 1);
    ratios[`${name}BundleOverNode`] = round(bundle / nodeP50, 2);
    ratios[`${name}SourceOverBundle`] = round(source / bundle, 2);
    console.log(
      `${name.padEnd(9)} node ${nodeP50.toFixed(0)} ms · bundle ${bundle.toFixed(0)} ms · source ${source.toFixed(0)} ms`,
    );
  }
  report('cli', results, ratios);
}
