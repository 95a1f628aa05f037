/**
 * Verifying an evidence package (evidence-format.ts) with no database: manifest hashes, the checkpoint
 * signature, every entry's canonical form and inclusion proof, the provenance the entries record, the
 * handoff report against its recorded SHA-256, the witness cosignatures (through a checker the caller
 * gives: the witness keys it trusts), and the package signature.
 */
import type { KeyObject } from 'node:crypto';
import { verify as edVerify } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EvidenceInvalidError } from '../../protocols/vocabulary/index.ts';
import { type AuditEvent, canonicalJson, decodeEvent } from './canonical.ts';
import {
  type SignedCheckpoint,
  checkpointSignatureProblem,
  loadPublicKey,
  parseSignedCheckpoint,
  publicKeyPem,
  rawPublicKey,
} from './checkpoint.ts';
import {
  EVIDENCE_FILES,
  EVIDENCE_FORMAT,
  evidenceStatement,
  HASHED_FILES,
  jsonFile,
  provenanceOf,
  type Provenance,
} from './evidence-format.ts';
import { hashLeaf, sha256, verifyInclusion } from './merkle.ts';
import { keyFingerprint } from './trust.ts';

export interface EvidenceSummary {
  run: string;
  origin: string;
  treeSize: number;
  root: string;
  checkpointTs: number;
  entries: AuditEvent[];
  seqs: number[];
  provenance: Provenance;
  /** Witness cosignature lines of the checkpoint. */
  cosignatures: string[];
  /** The handoff report's SHA-256 when the package carries it. */
  handoffSha256?: string;
  /** False only when verified with requireSignature: false and no signature.json. */
  signed: boolean;
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
  /** Default true: a package without signature.json fails (export checks before signing with false). */
  requireSignature?: boolean;
  /** The pipeline file the verifier holds: its SHA-256 must be the one the run recorded. */
  pipelineFile?: Buffer;
  /**
   * Checks the witness cosignature lines against the checkpoint (the CLI passes one built from the
   * witness keys it pins); returns the problem, or undefined.
   */
  checkCosignatures?: (cp: SignedCheckpoint, lines: readonly string[]) => string | undefined;
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
  const manifestBytes = read(EVIDENCE_FILES.manifest);
  const m = canonicalJsonFile(EVIDENCE_FILES.manifest, manifestBytes);
  const mf = EVIDENCE_FILES.manifest;
  if (!isPlainObject(m) || !sameKeys(m, ['format', 'run', 'treeSize', 'files']))
    throw new Bad(mf, 'expected keys format, run, treeSize, files');
  if (m.format !== EVIDENCE_FORMAT) throw new Bad(mf, `format is not ${EVIDENCE_FORMAT}`);
  if (typeof m.run !== 'string' || m.run.length === 0) throw new Bad(mf, 'run is not a non-empty string');
  const listed = m.files;
  const hashed = present.has(EVIDENCE_FILES.handoff)
    ? [...HASHED_FILES, EVIDENCE_FILES.handoff]
    : HASHED_FILES;
  if (!isPlainObject(listed) || !sameKeys(listed, hashed))
    throw new Bad(mf, `files must list ${hashed.join(', ')}`);
  for (const f of hashed) {
    if (typeof listed[f] !== 'string' || !HEX32.test(listed[f] as string))
      throw new Bad(mf, `hash of ${f} is not lowercase hex SHA-256`);
  }
  for (const f of present) {
    if (f !== mf && f !== EVIDENCE_FILES.signature && !hashed.includes(f))
      throw new Bad(f, 'file is not part of the package');
  }
  // 2. File bytes against the manifest (decides which file changed when the content check fails).
  const bytes = Object.fromEntries(hashed.map((f) => [f, read(f)]));
  const changed = hashed.filter((f) => sha256(bytes[f]!).toString('hex') !== listed[f]);
  // 3. Content, cryptographically, independent of the manifest hashes.
  let summary: EvidenceSummary;
  try {
    summary = checkContent(m.run, bytes, opts);
    if (m.treeSize !== summary.treeSize)
      throw new Bad(mf, `treeSize ${String(m.treeSize)} is not the checkpoint size ${summary.treeSize}`);
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
  // 4. The package signature over the manifest, by the (trusted) ledger key.
  if (!present.has(EVIDENCE_FILES.signature)) {
    if (opts.requireSignature ?? true)
      throw new Bad(EVIDENCE_FILES.signature, 'missing: the package is not signed');
    return summary;
  }
  checkSignature(read(EVIDENCE_FILES.signature), m.run, manifestBytes, bytes[EVIDENCE_FILES.publicKey]!);
  return { ...summary, signed: true };
}

function checkSignature(bytes: Buffer, run: string, manifest: Buffer, pem: Buffer): void {
  const sf = EVIDENCE_FILES.signature;
  const s = canonicalJsonFile(sf, bytes);
  if (!isPlainObject(s) || !sameKeys(s, ['keyFingerprint', 'signature', 'statement']))
    throw new Bad(sf, 'expected keys keyFingerprint, signature, statement');
  const key = loadPublicKey(pem.toString('utf8'));
  const statement = evidenceStatement(run, sha256(manifest).toString('hex'));
  if (s.statement !== statement) throw new Bad(sf, 'signs another manifest or run than this package has');
  if (s.keyFingerprint !== keyFingerprint(key)) throw new Bad(sf, 'names another key than public-key.pem');
  const sig = typeof s.signature === 'string' ? Buffer.from(s.signature, 'base64') : Buffer.alloc(0);
  if (sig.length !== 64 || !edVerify(null, Buffer.from(statement, 'utf8'), key, sig))
    throw new Bad(sf, 'the signature does not verify under the package key');
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
  const provenance = checkProvenance(bytes, events, seqs, opts);
  const cosignatures = checkWitnesses(bytes, cp, opts);
  const handoff = bytes[EVIDENCE_FILES.handoff];
  return {
    signed: false,
    provenance,
    cosignatures,
    ...(handoff ? { handoffSha256: sha256(handoff.subarray(0, handoff.length - 1)).toString('hex') } : {}),
    run,
    origin: cp.origin,
    treeSize: cp.size,
    root: cp.root.toString('hex'),
    checkpointTs: cp.ts,
    entries: events,
    seqs,
  };
}

/** provenance.json must be what the proven entries record; the handoff report and pipeline file must match it. */
function checkProvenance(
  bytes: Record<string, Buffer>,
  events: AuditEvent[],
  seqs: number[],
  opts: VerifyEvidenceOptions,
): Provenance {
  const pf = EVIDENCE_FILES.provenance;
  const provenance = provenanceOf(events, seqs);
  canonicalJsonFile(pf, bytes[pf]!);
  if (!jsonFile(provenance).equals(bytes[pf]!))
    throw new Bad(
      pf,
      'is not what the proven entries record (pipeline hash, task output digests, handoff reports)',
    );
  const handoff = bytes[EVIDENCE_FILES.handoff];
  if (handoff) {
    canonicalJsonFile(EVIDENCE_FILES.handoff, handoff);
    const digest = sha256(handoff.subarray(0, handoff.length - 1)).toString('hex');
    if (!provenance.handoffs.some((h) => h.sha256 === digest))
      throw new Bad(
        EVIDENCE_FILES.handoff,
        `is not a report the ledger recorded (its SHA-256 ${digest} is in no handoff.ready entry of the run)`,
      );
  }
  if (opts.pipelineFile) {
    const digest = sha256(opts.pipelineFile).toString('hex');
    if (provenance.pipeline.length === 0)
      throw new Bad('pipeline file', 'the run recorded no pipeline file hash to compare with');
    if (!provenance.pipeline.some((p) => p.sha256 === digest))
      throw new Bad(
        'pipeline file',
        `its SHA-256 ${digest} is not the one the run recorded (${provenance.pipeline[0]!.sha256})`,
      );
  }
  return provenance;
}

/** witnesses.json: canonical, cosignature lines; checked against the caller's witness keys when given. */
function checkWitnesses(
  bytes: Record<string, Buffer>,
  cp: SignedCheckpoint,
  opts: VerifyEvidenceOptions,
): string[] {
  const wf = EVIDENCE_FILES.witnesses;
  const w = canonicalJsonFile(wf, bytes[wf]!);
  if (!isPlainObject(w) || !sameKeys(w, ['cosignatures']) || !Array.isArray(w.cosignatures))
    throw new Bad(wf, 'expected key cosignatures');
  const lines = w.cosignatures as unknown[];
  if (!lines.every((l): l is string => typeof l === 'string'))
    throw new Bad(wf, 'cosignatures are not lines');
  const problem = opts.checkCosignatures?.(cp, lines);
  if (problem) throw new Bad(wf, problem);
  return lines;
}
