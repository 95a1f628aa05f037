/**
 * `agov evidence export --run ID OUT` writes one run's evidence package (entries, inclusion proofs,
 * signed checkpoint, public key, manifest) from the ledger file, read-only; `agov evidence verify OUT`
 * checks a package offline, with no database, and exits 1 naming the bad file.
 */
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readEnvironment } from '../infra/environment.ts';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createSigner,
  DEFAULT_LEDGER_ORIGIN,
  EVIDENCE_FILES,
  type EvidenceSignature,
  type EvidenceSummary,
  keyFingerprint,
  type SignedCheckpoint,
  LedgerStore,
  localEvidenceSigner,
  signEvidence,
  exportEvidence,
  loadPublicKey,
  resolveTrustedKey,
  type TrustedKey,
  verifyEvidence,
} from '../actors/ledger/reader.ts';
import {
  type Cosignature,
  cosignatureKeyId,
  cosignatureProblem,
  parseCosignatureLine,
} from '../actors/witness/index.ts';
import type { Bus } from '../bus/index.ts';
// Light imports only (files, not the protocols face with its zod schemas): `evidence verify` is offline
// and starts fast; the bus is loaded when `export` asks the writer.
import { ACTOR_KIND, SERVICE_NAME } from '../protocols/actor-kinds.ts';
import { serviceSubject } from '../protocols/subjects.ts';
import {
  ConfigError,
  EvidenceInvalidError,
  GovError,
  InvalidMessageError,
  NoRespondersError,
  NotFoundError,
  TimeoutError,
} from '../protocols/vocabulary/index.ts';
import { cliPublicKey, ledgerCliOptions, ledgerPath } from './command-ledger.ts';

export const EVIDENCE_USAGE = `agov evidence <command>

  export --run ID OUT [--db PATH] [--key PATH | --fingerprint sha256:HEX] [--handoff FILE]
         [--signing-key PEM]
                      write the run's evidence package into the empty folder OUT: entries, proofs,
                      checkpoint, witness cosignatures, provenance (pipeline file hash, task output
                      digests), the handoff report (asked from the budget monitor, or FILE), signed by
                      the ledger key through the ledger writer (NATS_URL), or with a local key file
  verify OUT [--key PATH | --fingerprint sha256:HEX] [--pipeline FILE] [--witness-key PEM]...
         [--unsigned-ok]
                      check a package offline against the key you pin; exit 1 naming the bad part, or
                      when the package's key is not the pinned one. --pipeline checks the pipeline
                      file's hash against the run's; --witness-key requires that witness's cosignature.
                      Unpinned, the package proves only that it is self-consistent.
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
    options: {
      ...ledgerCliOptions,
      run: { type: 'string' },
      nats: { type: 'string' },
      handoff: { type: 'string' },
      'signing-key': { type: 'string' },
    },
  });
  const out = positionals[0];
  if (!values.run || !out) throw new ConfigError('usage: agov evidence export --run ID OUT');
  const dbPath = ledgerPath(values.db);
  if (!existsSync(dbPath))
    throw new ConfigError(`no ledger at ${dbPath} (pass --db PATH or set AGOV_DATA_DIR)`);
  const key = cliPublicKey(values, dbPath);
  const natsUrl = values.nats ?? readEnvironment().natsUrl;
  const bus = natsUrl
    ? await (await import('../bus/index.ts')).Bus.connect({
        servers: natsUrl,
        name: `agov-evidence-${process.pid}`,
      })
    : undefined;
  try {
    if (!coveredBySignedCheckpoint(dbPath, values.run)) {
      // The CLI never writes the ledger: it asks the writer to sign a fresh head.
      if (!bus) {
        throw new NotFoundError(
          `no signed checkpoint covers run ${values.run}'s last entry yet: wait for the writer's next checkpoint, or set NATS_URL so the CLI can ask it for one`,
        );
      }
      await bus.ask(serviceSubject(ACTOR_KIND.ledgerWriter), {
        type: 'ledger.head.v1',
        body: { fresh: true },
      });
    }
    const handoffReport = values.handoff
      ? (JSON.parse(readFileSync(values.handoff, 'utf8')) as unknown)
      : await askHandoff(bus, values.run);
    const store = LedgerStore.open({ path: dbPath, readonly: true });
    let s: EvidenceSummary;
    try {
      s = exportEvidence(store, values.run, out, { publicKey: key, handoffReport });
    } finally {
      store.close();
    }
    process.stdout.write(
      `evidence of run ${s.run}: ${s.entries.length} entries proven against the checkpoint of size ${s.treeSize} (root ${s.root}), ${s.cosignatures.length} witness cosignatures, ${s.provenance.tasks.length} task output digests${s.handoffSha256 ? ', the handoff report' : ''} → ${out}\n`,
    );
    const signed = await signPackage(out, dbPath, values['signing-key'], bus);
    process.stderr.write(
      signed
        ? `signed by ${signed.keyFingerprint}\n`
        : 'warning: the package is NOT signed (no NATS_URL to reach the ledger writer, no --signing-key)\n',
    );
    return 0;
  } finally {
    await bus?.close();
  }
}

/** The run's latest handoff report from the budget monitor, when it has one (none offline). */
async function askHandoff(bus: Bus | undefined, runId: string): Promise<unknown> {
  if (!bus) return undefined;
  try {
    const r = await bus.ask(serviceSubject(SERVICE_NAME.handoff), {
      type: 'handoff.get.v1',
      body: { runId },
    });
    return r.type === 'handoff.report.v1' ? r.body.report : undefined;
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof NoRespondersError || err instanceof TimeoutError)
      return undefined;
    throw err;
  }
}

/** Signs the package: with a local key file, else through the ledger writer (its key is in Vault transit). */
async function signPackage(
  out: string,
  dbPath: string,
  signingKey: string | undefined,
  bus: Bus | undefined,
): Promise<EvidenceSignature | undefined> {
  if (signingKey) {
    const signer = createSigner(readFileSync(signingKey, 'utf8'), DEFAULT_LEDGER_ORIGIN);
    const store = LedgerStore.open({ path: dbPath, readonly: true, checkpointKey: signer.publicKey });
    try {
      return await signEvidence(
        out,
        localEvidenceSigner(store, (t) => signer.signText!(t)),
      );
    } finally {
      store.close();
    }
  }
  if (!bus) return undefined;
  return signEvidence(out, async (manifest, handoff) => {
    const r = await bus.ask(serviceSubject(ACTOR_KIND.ledgerWriter), {
      type: 'ledger.evidence-sign.v1',
      body: { manifest, ...(handoff !== undefined ? { handoff } : {}) },
    });
    if (r.type !== 'ledger.evidence-signature.v1')
      throw new InvalidMessageError(`unexpected answer ${r.type}`);
    return r.body;
  });
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
      pipeline: { type: 'string' },
      'witness-key': { type: 'string', multiple: true },
      'unsigned-ok': { type: 'boolean' },
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
    const witnessKeys = (values['witness-key'] ?? []).map((f) => loadPublicKey(readFileSync(f, 'utf8')));
    const s = verifyEvidence(dir, {
      publicKey,
      requireSignature: values['unsigned-ok'] !== true,
      ...(values.pipeline ? { pipelineFile: readFileSync(values.pipeline) } : {}),
      checkCosignatures: (cp, lines) => cosignaturesProblem(cp, lines, witnessKeys),
    });
    if (!s.signed) process.stderr.write('warning: the package is NOT signed (--unsigned-ok)\n');
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

/**
 * Every line must be a cosignature line; each pinned witness key must have a line that verifies for
 * this checkpoint (a line whose key ID is the key's, for whatever witness name it carries).
 */
function cosignaturesProblem(
  cp: SignedCheckpoint,
  lines: readonly string[],
  witnessKeys: readonly KeyObject[],
): string | undefined {
  let parsed: Cosignature[];
  try {
    parsed = lines.map((l) => parseCosignatureLine(l));
  } catch (err) {
    return `a cosignature line is malformed (${(err as Error).message})`;
  }
  for (const key of witnessKeys) {
    const mine = parsed.filter((c) => c.keyId === cosignatureKeyId(c.witness, key));
    if (mine.length === 0) return `witness key ${keyFingerprint(key)} did not cosign the checkpoint`;
    const problem = mine.map((c) => cosignatureProblem(cp, c, key)).find((p) => p !== undefined);
    if (problem) return problem;
  }
  return undefined;
}
