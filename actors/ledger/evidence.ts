/**
 * Evidence packages: one run's entries with inclusion proofs against a signed checkpoint, checkable
 * with no database.
 *
 *   manifest.json   {"files":{name: sha256 hex},"format":"agov-ledger-evidence/1","run":"<run id>"} + "\n"
 *   checkpoint.txt  the signed checkpoint (C2SP signed note)
 *   public-key.pem  the Ed25519 public key (SPKI PEM) the checkpoint verifies under
 *   entries.jsonl   the run's canonical entry bodies, one per line, in seq order
 *   proofs.json     {"proofs":[{"leafHash","path","seq"}…],"treeSize":N} + "\n", line i ↔ proofs[i]
 *
 * Every byte of every file is pinned: JSON files must be canonical, hashes lowercase hex, the PEM
 * and checkpoint in canonical form, entries canonical and proven, and the manifest hashes each file.
 * So altering any byte fails verification with EvidenceInvalidError naming the altered file.
 */
import type { KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, EvidenceInvalidError, NotFoundError } from '../../protocols/index.ts';
import { type AuditEvent, canonicalJson, decodeEvent } from './canonical.ts';
import {
  type SignedCheckpoint,
  checkpointSignatureProblem,
  formatSignedCheckpoint,
  loadPublicKey,
  parseSignedCheckpoint,
  publicKeyPem,
  rawPublicKey,
} from './checkpoint.ts';
import type { LedgerStore } from './ledger-store.ts';
import { buildInclusionProof, hashLeaf, sha256, verifyInclusion } from './merkle.ts';

export const EVIDENCE_FORMAT = 'agov-ledger-evidence/1';
export const EVIDENCE_FILES = {
  manifest: 'manifest.json',
  checkpoint: 'checkpoint.txt',
  publicKey: 'public-key.pem',
  entries: 'entries.jsonl',
  proofs: 'proofs.json',
} as const;
/** Files the manifest hashes, in checking order. */
const HASHED_FILES: readonly string[] = [
  EVIDENCE_FILES.publicKey,
  EVIDENCE_FILES.checkpoint,
  EVIDENCE_FILES.entries,
  EVIDENCE_FILES.proofs,
];

export interface EvidenceSummary {
  run: string;
  origin: string;
  treeSize: number;
  root: string;
  checkpointTs: number;
  entries: AuditEvent[];
  seqs: number[];
}

export interface ExportOptions {
  /** Prove against this checkpoint instead of the latest (it must cover the run's entries). */
  checkpoint?: SignedCheckpoint;
  /** Public key to ship; default the store's signing key. */
  publicKey?: string | Buffer | KeyObject;
}

/**
 * Writes the evidence package of `runId` into `outDir` (created; must be empty). Signs a fresh
 * checkpoint when none covers the run's last entry yet.
 * @throws NotFoundError (no entries) | ConfigError (outDir not empty, no key)
 */
export function exportEvidence(
  store: LedgerStore,
  runId: string,
  outDir: string,
  opts: ExportOptions = {},
): EvidenceSummary {
  const entries = store.byRun(runId, { limit: Number.MAX_SAFE_INTEGER });
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

  mkdirSync(outDir, { recursive: true });
  if (readdirSync(outDir).length > 0) throw new ConfigError(`evidence directory ${outDir} is not empty`);
  const checkpointFinal = cp;
  const files: Record<string, Buffer> = {
    [EVIDENCE_FILES.publicKey]: Buffer.from(publicKeyPem(key), 'utf8'),
    [EVIDENCE_FILES.checkpoint]: Buffer.from(formatSignedCheckpoint(checkpointFinal), 'utf8'),
    [EVIDENCE_FILES.entries]: Buffer.concat(entries.flatMap((e) => [e.body, Buffer.from('\n')])),
    [EVIDENCE_FILES.proofs]: Buffer.from(
      `${canonicalJson({
        treeSize: checkpointFinal.size,
        proofs: entries.map((e) => ({
          seq: e.seq,
          leafHash: e.leafHash.toString('hex'),
          path: buildInclusionProof(store, e.seq, checkpointFinal.size).map((h) => h.toString('hex')),
        })),
      })}\n`,
      'utf8',
    ),
  };
  const manifest = {
    format: EVIDENCE_FORMAT,
    run: runId,
    files: Object.fromEntries(HASHED_FILES.map((f) => [f, sha256(files[f]!).toString('hex')])),
  };
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(outDir, name), bytes);
  writeFileSync(join(outDir, EVIDENCE_FILES.manifest), `${canonicalJson(manifest)}\n`);
  return verifyEvidence(outDir, { publicKey: key });
}

class Bad extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const HEX32 = /^[0-9a-f]{64}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sameKeys(o: Record<string, unknown>, keys: readonly string[]): boolean {
  const k = Object.keys(o).sort();
  const want = [...keys].sort();
  return k.length === want.length && k.every((x, i) => x === want[i]);
}

/** Parses a canonical JSON file (bytes must equal canonicalJson(parsed) + "\n"). */
function canonicalJsonFile(file: string, bytes: Buffer): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new Bad(file, `not UTF-8 JSON (${(err as Error).message})`);
  }
  let again: string;
  try {
    again = `${canonicalJson(parsed)}\n`;
  } catch (err) {
    throw new Bad(file, (err as Error).message);
  }
  if (again !== bytes.toString('utf8')) throw new Bad(file, 'not in canonical JSON form');
  return parsed;
}

export interface VerifyEvidenceOptions {
  /** The key the verifier trusts; the package's public-key.pem must be this key. */
  publicKey?: string | Buffer | KeyObject;
}

/**
 * Verifies an evidence package with no database: manifest hashes, the checkpoint signature, every
 * entry's canonical form and inclusion proof.
 * @throws EvidenceInvalidError with details {file, reason} naming the altered file
 */
export function verifyEvidence(dir: string, opts: VerifyEvidenceOptions = {}): EvidenceSummary {
  try {
    return verifyOrThrow(dir, opts);
  } catch (err) {
    if (err instanceof Bad) {
      throw new EvidenceInvalidError(`evidence ${err.file}: ${err.reason}`, {
        details: { file: err.file, reason: err.reason },
      });
    }
    throw err;
  }
}

function verifyOrThrow(dir: string, opts: VerifyEvidenceOptions): EvidenceSummary {
  const present = new Set(readdirSync(dir));
  const read = (f: string): Buffer => {
    if (!present.has(f)) throw new Bad(f, 'missing');
    return readFileSync(join(dir, f));
  };
  // 1. The manifest: canonical, the exact expected shape.
  const m = canonicalJsonFile(EVIDENCE_FILES.manifest, read(EVIDENCE_FILES.manifest));
  const mf = EVIDENCE_FILES.manifest;
  if (!isPlainObject(m) || !sameKeys(m, ['format', 'run', 'files']))
    throw new Bad(mf, 'expected keys format, run, files');
  if (m.format !== EVIDENCE_FORMAT) throw new Bad(mf, `format is not ${EVIDENCE_FORMAT}`);
  if (typeof m.run !== 'string' || m.run.length === 0) throw new Bad(mf, 'run is not a non-empty string');
  const listed = m.files;
  if (!isPlainObject(listed) || !sameKeys(listed, HASHED_FILES))
    throw new Bad(mf, `files must list ${HASHED_FILES.join(', ')}`);
  for (const f of HASHED_FILES) {
    if (typeof listed[f] !== 'string' || !HEX32.test(listed[f] as string))
      throw new Bad(mf, `hash of ${f} is not lowercase hex SHA-256`);
  }
  for (const f of present) {
    if (f !== mf && !HASHED_FILES.includes(f)) throw new Bad(f, 'file is not part of the package');
  }
  // 2. File bytes against the manifest (decides which file changed when the content check fails).
  const bytes = Object.fromEntries(HASHED_FILES.map((f) => [f, read(f)]));
  const changed = HASHED_FILES.filter((f) => sha256(bytes[f]!).toString('hex') !== listed[f]);
  // 3. Content, cryptographically, independent of the manifest hashes.
  let summary: EvidenceSummary;
  try {
    summary = checkContent(m.run, bytes, opts);
  } catch (err) {
    if (err instanceof Bad && changed.length > 0 && !changed.includes(err.file)) {
      throw new Bad(changed[0]!, `SHA-256 differs from the manifest (${err.file}: ${err.reason})`);
    }
    throw err;
  }
  if (changed.length > 0) {
    throw new Bad(
      mf,
      `records a SHA-256 for ${changed.join(', ')} that the intact, verifying file does not have`,
    );
  }
  return summary;
}

function checkContent(
  run: string,
  bytes: Record<string, Buffer>,
  opts: VerifyEvidenceOptions,
): EvidenceSummary {
  // public key: canonical SPKI PEM of an Ed25519 key (and the trusted one, if given)
  const pf = EVIDENCE_FILES.publicKey;
  const pemText = bytes[pf]!.toString('utf8');
  let key: KeyObject;
  try {
    key = loadPublicKey(pemText);
  } catch (err) {
    throw new Bad(pf, `not an Ed25519 public key (${(err as Error).message})`);
  }
  if (publicKeyPem(key) !== pemText || !pemText.startsWith('-----BEGIN PUBLIC KEY-----'))
    throw new Bad(pf, 'not in canonical SPKI PEM form');
  if (opts.publicKey && !rawPublicKey(loadPublicKey(opts.publicKey)).equals(rawPublicKey(key))) {
    throw new Bad(pf, 'is not the trusted public key');
  }
  // checkpoint: canonical signed note, signature valid
  const cf = EVIDENCE_FILES.checkpoint;
  let cp: SignedCheckpoint;
  try {
    cp = parseSignedCheckpoint(utf8.decode(bytes[cf]!));
  } catch (err) {
    throw new Bad(cf, (err as Error).message);
  }
  const sig = checkpointSignatureProblem(cp, key);
  if (sig) throw new Bad(cf, sig);
  // entries: canonical events of this run, one per line
  const ef = EVIDENCE_FILES.entries;
  const text = (() => {
    try {
      return utf8.decode(bytes[ef]!);
    } catch {
      throw new Bad(ef, 'not UTF-8');
    }
  })();
  if (!text.endsWith('\n')) throw new Bad(ef, 'does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const bodies = lines.map((l) => Buffer.from(l, 'utf8'));
  const events = bodies.map((b, i) => {
    try {
      return decodeEvent(b);
    } catch (err) {
      throw new Bad(ef, `line ${i + 1}: ${(err as Error).message}`);
    }
  });
  // proofs: canonical JSON, one per entry, each leading to the signed root
  const qf = EVIDENCE_FILES.proofs;
  const p = canonicalJsonFile(qf, bytes[qf]!);
  if (!isPlainObject(p) || !sameKeys(p, ['treeSize', 'proofs']) || !Array.isArray(p.proofs)) {
    throw new Bad(qf, 'expected keys treeSize, proofs');
  }
  if (p.treeSize !== cp.size)
    throw new Bad(qf, `treeSize ${String(p.treeSize)} is not the checkpoint size ${cp.size}`);
  if (p.proofs.length !== bodies.length)
    throw new Bad(qf, `${p.proofs.length} proofs for ${bodies.length} entries`);
  const seqs: number[] = [];
  p.proofs.forEach((item: unknown, i: number) => {
    if (
      !isPlainObject(item) ||
      !sameKeys(item, ['seq', 'leafHash', 'path']) ||
      !Number.isSafeInteger(item.seq) ||
      typeof item.leafHash !== 'string' ||
      !HEX32.test(item.leafHash) ||
      !Array.isArray(item.path) ||
      !item.path.every((h: unknown) => typeof h === 'string' && HEX32.test(h))
    ) {
      throw new Bad(qf, `proof ${i} is malformed`);
    }
    const seq = item.seq as number;
    if (i > 0 && seq <= seqs[i - 1]!) throw new Bad(qf, `proof ${i}: seq ${seq} does not increase`);
    seqs.push(seq);
    const path = (item.path as string[]).map((h) => Buffer.from(h, 'hex'));
    const stated = Buffer.from(item.leafHash, 'hex');
    const actual = hashLeaf(bodies[i]!);
    if (!verifyInclusion(stated, seq, cp.size, path, cp.root)) {
      throw new Bad(qf, `proof for seq ${seq} does not lead to the signed root`);
    }
    if (!actual.equals(stated)) throw new Bad(ef, `line ${i + 1} (seq ${seq}) is not the proven entry`);
  });
  events.forEach((e, i) => {
    // entries are pinned by their proofs, so a run mismatch is the manifest's
    if (e.run !== run)
      throw new Bad(EVIDENCE_FILES.manifest, `run ${run} differs from line ${i + 1}'s run ${String(e.run)}`);
  });
  return {
    run,
    origin: cp.origin,
    treeSize: cp.size,
    root: cp.root.toString('hex'),
    checkpointTs: cp.ts,
    entries: events,
    seqs,
  };
}
