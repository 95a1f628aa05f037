import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { CLI_BUNDLE_OPTIONS } from '../../cli/build-bundle.ts';
import { REPO_ROOT } from './code-shape.ts';

/**
 * Packages a module loads before its first line runs: bundled as the CLI is (esbuild, code splitting,
 * packages external), following only static imports — `import()` is loaded when it is reached.
 */
function packagesLoadedBy(entry: string): string[] {
  const { metafile } = buildSync({
    ...CLI_BUNDLE_OPTIONS,
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outdir: 'light-face-check',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const outputs = metafile.outputs;
  const start = Object.keys(outputs).find((o) => outputs[o]?.entryPoint === entry);
  if (!start) throw new Error(`no output for ${entry}`);
  const packages = new Set<string>();
  const seen = new Set<string>();
  const walk = (out: string) => {
    if (seen.has(out)) return;
    seen.add(out);
    for (const imp of outputs[out]?.imports ?? []) {
      if (imp.kind !== 'import-statement') continue;
      if (imp.external) packages.add(imp.path);
      else walk(imp.path);
    }
  };
  walk(start);
  return [...packages].filter((p) => !p.startsWith('node:')).sort();
}

/** What a command that only reads the ledger file must not pay for at start. */
const HEAVY = /^(@nats-io\/|node-vault|zod|msgpackr|ioredis|fastify|xstate)/;

describe('offline ledger tools load no bus, no Vault client, no schemas', () => {
  it('the light face actors/ledger/reader.ts loads better-sqlite3 and nothing heavy', () => {
    expect(packagesLoadedBy('actors/ledger/reader.ts')).toEqual(['better-sqlite3']);
  });

  it.each(['cli/command-ledger.ts', 'cli/command-evidence.ts', 'actors/witness/index.ts'])(
    '%s loads no NATS, node-vault or zod before it is run',
    (entry) => {
      expect(packagesLoadedBy(entry).filter((p) => HEAVY.test(p))).toEqual([]);
    },
  );

  it('the whole ledger face does load them (the check sees a heavy import)', () => {
    const loaded = packagesLoadedBy('actors/ledger/index.ts');
    expect(loaded).toContain('node-vault');
    expect(loaded.some((p) => p.startsWith('@nats-io/'))).toBe(true);
  });
});
