#!/usr/bin/env node
// `npm run mutation [-- MODULE...]`: Stryker over the governance-critical modules, one module at a time
// (its file in `--mutate`, its focused tests through test/mutation/vitest.mutation.config.ts), each with its own incremental file under
// reports/mutation/ so a re-run only tests the mutants whose code or tests changed. See docs/testing.md.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MODULES } from './modules.mjs';

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const force = process.argv.includes('--force');
const checkers = process.argv.includes('--typecheck') ? { checkers: ['typescript'] } : {};
// Static mutants (module-load code) each need a fresh module graph and every test of the module: on
// this machine the lifecycle machine's ~2 hours. `--ignore-static` leaves them out (status Ignored).
const ignoreStatic = process.argv.includes('--ignore-static') ? { ignoreStatic: true } : {};
// Stryker 10's CLI refuses Node < 22 (the engines field) though the engine runs on this project's Node 20;
// the driver calls the engine directly (the package's exports map only has the CLI face).
const { Stryker } = await import(
  pathToFileURL(resolve('node_modules/@stryker-mutator/core/dist/src/stryker.js')).href
);
const unknown = wanted.filter((name) => !MODULES.some((m) => m.name === name));
if (unknown.length > 0) {
  console.error(`unknown module(s): ${unknown.join(', ')}; known: ${MODULES.map((m) => m.name).join(', ')}`);
  process.exit(2);
}
const selected = wanted.length > 0 ? MODULES.filter((m) => wanted.includes(m.name)) : MODULES;
mkdirSync('reports/mutation', { recursive: true });

const summary = {};
let failed = false;
for (const mod of selected) {
  const json = `reports/mutation/${mod.name}.json`;
  try {
    // The module's tests are chosen by the vitest config, not by `testFiles` (see that config's note).
    process.env.AGOV_MUTATION_TESTS = mod.tests.join(',');
    await new Stryker({
      configFile: 'stryker.config.mjs',
      mutate: mod.mutate,
      incrementalFile: `reports/mutation/${mod.name}.incremental.json`,
      jsonReporter: { fileName: json },
      ...(force ? { force: true } : {}),
      ...checkers,
      ...ignoreStatic,
    }).runMutationTest();
  } catch (err) {
    console.error(`${mod.name}: ${err?.stack ?? err}`);
    failed = true;
  }
  if (existsSync(json)) summary[mod.name] = score(JSON.parse(readFileSync(json, 'utf8')));
}
for (const [name, s] of Object.entries(summary)) {
  console.log(
    `${name.padEnd(22)} ${s.score.toFixed(1).padStart(5)} %  killed ${s.killed}  timeout ${s.timeout}  survived ${s.survived}  no-coverage ${s.noCoverage}`,
  );
}
process.exit(failed ? 1 : 0);

/** killed ÷ (killed + survived + no coverage), timeouts counted as killed. */
function score(report) {
  const c = { killed: 0, timeout: 0, survived: 0, noCoverage: 0 };
  for (const file of Object.values(report.files)) {
    for (const m of file.mutants) {
      if (m.status === 'Killed') c.killed++;
      else if (m.status === 'Timeout') c.timeout++;
      else if (m.status === 'Survived') c.survived++;
      else if (m.status === 'NoCoverage') c.noCoverage++;
    }
  }
  const detected = c.killed + c.timeout;
  const total = detected + c.survived + c.noCoverage;
  return { ...c, score: total === 0 ? 100 : (100 * detected) / total };
}
