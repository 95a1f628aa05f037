/**
 * `agov evidence export --run ID OUT` writes one run's evidence package (entries, inclusion proofs,
 * signed checkpoint, public key, manifest) from the ledger file, read-only; `agov evidence verify OUT`
 * checks a package offline, with no database, and exits 1 naming the bad file.
 */
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readEnvironment } from '../infra/index.ts';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  EVIDENCE_FILES,
  LedgerStore,
  exportEvidence,
  loadPublicKey,
  resolveTrustedKey,
  type TrustedKey,
  verifyEvidence,
} from '../actors/ledger/index.ts';
import { Bus } from '../bus/index.ts';
import {
  ConfigError,
  EvidenceInvalidError,
  GovError,
  NotFoundError,
  ACTOR_KIND,
} from '../protocols/index.ts';
import { serviceSubject } from '../protocols/index.ts';
import { cliPublicKey, ledgerCliOptions, ledgerPath } from './command-ledger.ts';

export const EVIDENCE_USAGE = `agov evidence <command>

  export --run ID OUT [--db PATH] [--key PATH | --fingerprint sha256:HEX]
                      write the run's evidence package into the empty folder OUT
  verify OUT [--key PATH | --fingerprint sha256:HEX]
                      check a package offline against the key you pin; exit 1 naming the bad file, or
                      when the package's key is not the pinned one. Unpinned, the package proves only
                      that it is self-consistent.
`;

export async function commandEvidence(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'export') return evidenceExport(rest);
  if (sub === 'verify') return evidenceVerify(rest);
  process.stderr.write(
    sub === undefined
      ? EVIDENCE_USAGE
      : `agov evidence: unknown command ${JSON.stringify(sub)}\n\n${EVIDENCE_USAGE}`,
  );
  return 2;
}

async function evidenceExport(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...ledgerCliOptions, run: { type: 'string' }, nats: { type: 'string' } },
  });
  const out = positionals[0];
  if (!values.run || !out) throw new ConfigError('usage: agov evidence export --run ID OUT');
  const dbPath = ledgerPath(values.db);
  if (!existsSync(dbPath))
    throw new ConfigError(`no ledger at ${dbPath} (pass --db PATH or set AGOV_DATA_DIR)`);
  const key = cliPublicKey(values, dbPath);
  const natsUrl = values.nats ?? readEnvironment().natsUrl;
  if (!coveredBySignedCheckpoint(dbPath, values.run)) {
    // The CLI never writes the ledger: it asks the writer to sign a fresh head.
    if (!natsUrl) {
      throw new NotFoundError(
        `no signed checkpoint covers run ${values.run}'s last entry yet: wait for the writer's next checkpoint, or set NATS_URL so the CLI can ask it for one`,
      );
    }
    const bus = await Bus.connect({ servers: natsUrl, name: `agov-evidence-${process.pid}` });
    try {
      await bus.ask(serviceSubject(ACTOR_KIND.ledgerWriter), {
        type: 'ledger.head.v1',
        body: { fresh: true },
      });
    } finally {
      await bus.close();
    }
  }
  const store = LedgerStore.open({ path: dbPath, readonly: true });
  try {
    const s = exportEvidence(store, values.run, out, { publicKey: key });
    process.stdout.write(
      `evidence of run ${s.run}: ${s.entries.length} entries proven against the checkpoint of size ${s.treeSize} (root ${s.root}) → ${out}\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}

function coveredBySignedCheckpoint(dbPath: string, run: string): boolean {
  const store = LedgerStore.open({ path: dbPath, readonly: true });
  try {
    const last = store.byRun(run, { order: 'desc', limit: 1 })[0];
    if (!last) throw new NotFoundError(`ledger has no entries for run ${run}`);
    return (store.latestCheckpoint()?.size ?? 0) > last.seq;
  } finally {
    store.close();
  }
}

async function evidenceVerify(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      key: { type: 'string' },
      'public-key': { type: 'string' },
      fingerprint: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const dir = positionals[0];
  if (!dir) throw new ConfigError('usage: agov evidence verify OUT [--key PATH | --fingerprint sha256:HEX]');
  if (!existsSync(dir)) throw new ConfigError(`no evidence package at ${dir}`);
  const packaged = join(dir, EVIDENCE_FILES.publicKey);
  const explicit = values.key ?? values['public-key'];
  const pinnedFingerprint = values.fingerprint ?? readEnvironment().ledgerKeyFingerprint;
  let publicKey: KeyObject | undefined;
  if (explicit || pinnedFingerprint) {
    let packagedKey: KeyObject | undefined;
    let trusted: TrustedKey;
    try {
      packagedKey = existsSync(packaged) ? loadPublicKey(readFileSync(packaged, 'utf8')) : undefined;
    } catch (err) {
      return invalid(
        values.json === true,
        EVIDENCE_FILES.publicKey,
        `not a public key: ${(err as Error).message}`,
      );
    }
    try {
      trusted = resolveTrustedKey({
        pinnedKey: explicit ? loadPublicKey(readFileSync(explicit, 'utf8')) : undefined,
        pinnedFingerprint,
        besideKey: packagedKey,
        besideSource: 'in the package',
      });
    } catch (err) {
      if (!(err instanceof GovError) || err.code === 'GOV_ERR_CONFIG') throw err;
      return invalid(values.json === true, EVIDENCE_FILES.publicKey, err.message);
    }
    publicKey = trusted.key;
    process.stderr.write(`ledger key ${trusted.fingerprint} (pinned)\n`);
  }
  try {
    const s = verifyEvidence(dir, { publicKey });
    if (values.json)
      process.stdout.write(
        `${JSON.stringify({ ok: true, run: s.run, entries: s.entries.length, treeSize: s.treeSize, root: s.root })}\n`,
      );
    else
      process.stdout.write(
        `evidence ok: run ${s.run}, ${s.entries.length} entries, included in the signed tree of size ${s.treeSize} (root ${s.root})\n`,
      );
    if (!publicKey)
      process.stderr.write(
        'warning: no --key or --fingerprint given: the package is self-consistent, but signed by a key you did not pin\n',
      );
    return 0;
  } catch (err) {
    if (!(err instanceof EvidenceInvalidError)) throw err;
    const d = err.details as { file?: string; reason?: string } | undefined;
    return invalid(values.json === true, d?.file ?? '?', d?.reason ?? err.message);
  }
}

function invalid(json: boolean, file: string, reason: string): number {
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, file, reason })}\n`);
  process.stderr.write(`evidence INVALID: bad file ${file}: ${reason}\n`);
  return 1;
}
