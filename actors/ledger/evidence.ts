/**
 * Evidence packages (format in evidence-format.ts): one run's entries with inclusion proofs against a
 * signed checkpoint, its provenance (pipeline file hash, task output digests, handoff report), the
 * witness cosignatures of the checkpoint, and a signature by the ledger key over the manifest.
 *
 * Export writes the files from the ledger (read-only) and checks them; the signature comes from the
 * ledger writer, whose key lives in Vault transit: it rebuilds the files it can from its own ledger and
 * signs only a manifest that matches ({@link evidenceSignProblem}). Verification needs no database
 * (evidence-verify.ts).
 */
import type { KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, NotFoundError } from '../../protocols/vocabulary/index.ts';
import { canonicalJson } from './canonical.ts';
import { checkpointSignatureProblem, loadPublicKey, type SignedCheckpoint } from './checkpoint.ts';
import {
  buildEvidenceFiles,
  EVIDENCE_FILES,
  EVIDENCE_FORMAT,
  evidenceStatement,
  jsonDigest,
  jsonFile,
  manifestOf,
  provenanceOf,
  runEntries,
} from './evidence-format.ts';
import { type EvidenceSummary, verifyEvidence } from './evidence-verify.ts';
import type { LedgerStore } from './ledger-store.ts';
import { sha256 } from './merkle.ts';
import { keyFingerprint } from './trust.ts';

export interface ExportOptions {
  /** Prove against this checkpoint instead of the latest (it must cover the run's entries). */
  checkpoint?: SignedCheckpoint;
  /** Public key to ship; default the store's signing key. */
  publicKey?: string | Buffer | KeyObject;
  /** The run's handoff report (from the budget monitor); shipped when the ledger recorded its SHA-256. */
  handoffReport?: unknown;
}

/**
 * Writes the evidence package of `runId` into `outDir` (created; must be empty), unsigned: sign it with
 * {@link signEvidence}. Signs a fresh checkpoint when none covers the run's last entry yet (a store
 * with a local signer only).
 * @throws NotFoundError (no entries) | ConfigError (outDir not empty, no key, a handoff report the ledger did not record)
 */
export function exportEvidence(
  store: LedgerStore,
  runId: string,
  outDir: string,
  opts: ExportOptions = {},
): EvidenceSummary {
  const entries = runEntries(store, runId);
  if (entries.length === 0) throw new NotFoundError(`ledger has no entries for run ${runId}`);
  const lastSeq = entries[entries.length - 1]!.seq;
  let cp = opts.checkpoint ?? store.latestCheckpoint();
  if (!cp || cp.size <= lastSeq) {
    if (opts.checkpoint)
      throw new ConfigError(`checkpoint of size ${opts.checkpoint.size} does not cover seq ${lastSeq}`);
    cp = store.checkpoint();
  }
  const keyMaterial = opts.publicKey ?? store.publicKey;
  if (!keyMaterial)
    throw new ConfigError('no public key to ship: the store has no signer and none was given');
  const key = loadPublicKey(keyMaterial);
  const sigProblem = checkpointSignatureProblem(cp, key);
  if (sigProblem) throw new ConfigError(`checkpoint does not verify under the shipped key: ${sigProblem}`);

  const files = buildEvidenceFiles(store, entries, cp, key);
  if (opts.handoffReport !== undefined) {
    const recorded = provenanceOf(
      entries,
      entries.map((e) => e.seq),
    ).handoffs.map((h) => h.sha256);
    const digest = jsonDigest(opts.handoffReport);
    if (!recorded.includes(digest))
      throw new ConfigError(`the handoff report given (SHA-256 ${digest}) is not one run ${runId} recorded`);
    files[EVIDENCE_FILES.handoff] = jsonFile(opts.handoffReport);
  }
  mkdirSync(outDir, { recursive: true });
  if (readdirSync(outDir).length > 0) throw new ConfigError(`evidence directory ${outDir} is not empty`);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(outDir, name), bytes);
  writeFileSync(join(outDir, EVIDENCE_FILES.manifest), manifestOf(runId, cp.size, files));
  return verifyEvidence(outDir, { publicKey: key, requireSignature: false });
}

/** A package signature: the statement, the Ed25519 signature (base64) and the key's fingerprint. */
export interface EvidenceSignature {
  statement: string;
  signature: string;
  keyFingerprint: string;
}

/** Signs a package's manifest with the ledger key (locally, or through the ledger writer: Vault transit). */
export async function signEvidence(
  outDir: string,
  sign: (manifest: string, handoff?: string) => Promise<EvidenceSignature>,
): Promise<EvidenceSignature> {
  const manifest = readFileSync(join(outDir, EVIDENCE_FILES.manifest), 'utf8');
  const handoffPath = join(outDir, EVIDENCE_FILES.handoff);
  const handoff = existsSync(handoffPath) ? readFileSync(handoffPath, 'utf8') : undefined;
  const sig = await sign(manifest, handoff);
  writeFileSync(join(outDir, EVIDENCE_FILES.signature), jsonFile(sig));
  return sig;
}

/**
 * The ledger writer's check before it signs a manifest: the run's files it can rebuild from its own
 * ledger (entries, proofs, checkpoint, key, witnesses, provenance) must have the manifest's hashes, and a
 * handoff report must be one the run recorded. Returns the statement to sign, or throws ConfigError.
 */
export function evidenceToSign(
  store: LedgerStore,
  key: KeyObject,
  manifestText: string,
  handoffText?: string,
): string {
  let m: { format?: unknown; run?: unknown; treeSize?: unknown; files?: Record<string, unknown> };
  try {
    m = JSON.parse(manifestText) as typeof m;
  } catch {
    throw new ConfigError('the manifest is not JSON');
  }
  if (`${canonicalJson(m)}\n` !== manifestText) throw new ConfigError('the manifest is not canonical JSON');
  if (m.format !== EVIDENCE_FORMAT || typeof m.run !== 'string' || typeof m.treeSize !== 'number' || !m.files)
    throw new ConfigError(`the manifest is not an ${EVIDENCE_FORMAT} manifest`);
  const cp = store.checkpointAt(m.treeSize);
  if (!cp) throw new ConfigError(`the ledger has no checkpoint of size ${m.treeSize}`);
  const entries = runEntries(store, m.run).filter((e) => e.seq < cp.size);
  if (entries.length === 0)
    throw new ConfigError(`the ledger has no entries of run ${m.run} below size ${cp.size}`);
  const files = buildEvidenceFiles(store, entries, cp, key);
  const names = new Set([...Object.keys(files), EVIDENCE_FILES.handoff]);
  for (const name of Object.keys(m.files))
    if (!names.has(name)) throw new ConfigError(`the manifest lists ${name}, which is not part of a package`);
  for (const [name, bytes] of Object.entries(files)) {
    if (m.files[name] !== sha256(bytes).toString('hex'))
      throw new ConfigError(`the manifest's ${name} is not the ledger's (run ${m.run}, size ${cp.size})`);
  }
  const listed = m.files[EVIDENCE_FILES.handoff];
  if ((listed === undefined) !== (handoffText === undefined))
    throw new ConfigError('the manifest and the request disagree on whether a handoff report is included');
  if (handoffText !== undefined) {
    const bytes = Buffer.from(handoffText, 'utf8');
    if (listed !== sha256(bytes).toString('hex'))
      throw new ConfigError("the manifest's handoff.json is not the report sent");
    const digest = sha256(bytes.subarray(0, bytes.length - 1)).toString('hex');
    const recorded = provenanceOf(
      entries,
      entries.map((e) => e.seq),
    ).handoffs.map((h) => h.sha256);
    if (!handoffText.endsWith('\n') || !recorded.includes(digest))
      throw new ConfigError(`the handoff report sent is not one run ${m.run} recorded`);
  }
  return evidenceStatement(m.run, sha256(Buffer.from(manifestText, 'utf8')).toString('hex'));
}

/** Signs an evidence statement with a local key (tests, offline tools). */
export function localEvidenceSigner(
  store: LedgerStore,
  signText: (text: string) => Buffer,
): (manifest: string, handoff?: string) => Promise<EvidenceSignature> {
  return async (manifest, handoff) => {
    const key = store.publicKey;
    if (!key) throw new ConfigError('the store has no public key');
    const statement = evidenceToSign(store, key, manifest, handoff);
    return {
      statement,
      signature: signText(statement).toString('base64'),
      keyFingerprint: keyFingerprint(key),
    };
  };
}

export { EVIDENCE_FILES, EVIDENCE_FORMAT } from './evidence-format.ts';
export { type EvidenceSummary, type VerifyEvidenceOptions, verifyEvidence } from './evidence-verify.ts';
