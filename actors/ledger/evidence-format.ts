/**
 * The evidence package format (agov-ledger-evidence/2) and the deterministic build of its files from
 * a ledger: the same ledger, run and checkpoint give the same bytes, so the ledger writer can rebuild a
 * package's files before it signs the manifest (evidence.ts, ledger-writer-answers.ts).
 *
 *   manifest.json     {"files":{name: sha256 hex},"format":…,"run":…,"treeSize":N} + "\n"
 *   checkpoint.txt    the signed checkpoint (C2SP signed note)
 *   public-key.pem    the Ed25519 public key (SPKI PEM) the checkpoint verifies under
 *   entries.jsonl     the run's canonical entry bodies, one per line, in seq order
 *   proofs.json       {"proofs":[{"leafHash","path","seq"}…],"treeSize":N} + "\n", line i ↔ proofs[i]
 *   witnesses.json    {"cosignatures":[line…]} + "\n": the witness cosignatures of the checkpoint
 *   provenance.json   {"handoffs","pipeline","tasks"} + "\n": the pipeline file's SHA-256, each task's
 *                     output digest and each handoff report's SHA-256, as the proven entries record them
 *   handoff.json      (optional) the run's handoff report, canonical JSON; its SHA-256 is in provenance
 *   signature.json    {"keyFingerprint","signature","statement"} + "\n": the ledger key's signature (Vault
 *                     transit) over evidenceStatement(run, SHA-256 of manifest.json); not in the manifest
 */
import { canonicalJson, type AuditEvent, type JsonObject } from './canonical.ts';
import { formatSignedCheckpoint, publicKeyPem, type SignedCheckpoint } from './checkpoint.ts';
import type { LedgerEntry } from './ledger-entry.ts';
import type { LedgerStore } from './ledger-store.ts';
import { buildInclusionProof, sha256 } from './merkle.ts';
import type { KeyObject } from 'node:crypto';

export const EVIDENCE_FORMAT = 'agov-ledger-evidence/2';
export const EVIDENCE_FILES = {
  manifest: 'manifest.json',
  checkpoint: 'checkpoint.txt',
  publicKey: 'public-key.pem',
  entries: 'entries.jsonl',
  proofs: 'proofs.json',
  witnesses: 'witnesses.json',
  provenance: 'provenance.json',
  handoff: 'handoff.json',
  signature: 'signature.json',
} as const;
/** Files every manifest hashes, in checking order (handoff.json is hashed when present). */
export const HASHED_FILES: readonly string[] = [
  EVIDENCE_FILES.publicKey,
  EVIDENCE_FILES.checkpoint,
  EVIDENCE_FILES.entries,
  EVIDENCE_FILES.proofs,
  EVIDENCE_FILES.witnesses,
  EVIDENCE_FILES.provenance,
];

/** What the proven entries of a run say about its inputs and outputs. */
export interface Provenance {
  pipeline: { seq: number; sha256: string }[];
  tasks: { seq: number; stageId: string; attempt: number; outputDigest: string }[];
  handoffs: { seq: number; reportId: string; sha256: string }[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const hex = (v: unknown): v is string => typeof v === 'string' && HEX64.test(v);

/** The provenance of a run, from its entries (in seq order). */
export function provenanceOf(events: readonly AuditEvent[], seqs: readonly number[]): Provenance {
  const out: Provenance = { pipeline: [], tasks: [], handoffs: [] };
  events.forEach((e, i) => {
    const d: JsonObject = e.data;
    const seq = seqs[i]!;
    if (e.type === 'run.event.v1' && d.event === 'run-accepted' && hex(d.pipelineSha256))
      out.pipeline.push({ seq, sha256: d.pipelineSha256 });
    if (e.type === 'run.event.v1' && d.event === 'stage-succeeded' && hex(d.outputDigest))
      out.tasks.push({
        seq,
        stageId: String(d.stageId ?? ''),
        attempt: typeof d.attempt === 'number' ? d.attempt : 1,
        outputDigest: d.outputDigest,
      });
    if (e.type === 'handoff.ready.v1' && hex(d.reportSha256))
      out.handoffs.push({ seq, reportId: String(d.reportId ?? ''), sha256: d.reportSha256 });
  });
  return out;
}

/** SHA-256 (hex) of a value's canonical JSON: how task outputs and handoff reports are digested. */
export function jsonDigest(value: unknown): string {
  return sha256(Buffer.from(canonicalJson(value), 'utf8')).toString('hex');
}

/** The canonical file form of a JSON value (canonical JSON and a newline). */
export function jsonFile(value: unknown): Buffer {
  return Buffer.from(`${canonicalJson(value)}\n`, 'utf8');
}

/**
 * What the package signature signs. Its second line is not a decimal tree size, so it can never be
 * read as a checkpoint signed by the same key.
 */
export function evidenceStatement(run: string, manifestSha256: string): string {
  return `${EVIDENCE_FORMAT}\nrun ${run}\nmanifest sha256:${manifestSha256}\n`;
}

/** The run's entries (seq order) and whether `cp` covers them all. */
export function runEntries(store: LedgerStore, run: string): LedgerEntry[] {
  return store.byRun(run, { limit: Number.MAX_SAFE_INTEGER });
}

/**
 * Every derivable file of the package of `run` proven against `cp` (all but handoff.json, signature.json
 * and the manifest), byte for byte.
 */
export function buildEvidenceFiles(
  store: LedgerStore,
  entries: readonly LedgerEntry[],
  cp: SignedCheckpoint,
  key: KeyObject,
): Record<string, Buffer> {
  const provenance = provenanceOf(
    entries,
    entries.map((e) => e.seq),
  );
  return {
    [EVIDENCE_FILES.publicKey]: Buffer.from(publicKeyPem(key), 'utf8'),
    [EVIDENCE_FILES.checkpoint]: Buffer.from(formatSignedCheckpoint(cp), 'utf8'),
    [EVIDENCE_FILES.entries]: Buffer.concat(entries.flatMap((e) => [e.body, Buffer.from('\n')])),
    [EVIDENCE_FILES.proofs]: jsonFile({
      treeSize: cp.size,
      proofs: entries.map((e) => ({
        seq: e.seq,
        leafHash: e.leafHash.toString('hex'),
        path: buildInclusionProof(store, e.seq, cp.size).map((h) => h.toString('hex')),
      })),
    }),
    [EVIDENCE_FILES.witnesses]: jsonFile({
      cosignatures: store.cosignaturesAt(cp.size).map((c) => c.line),
    }),
    [EVIDENCE_FILES.provenance]: jsonFile(provenance),
  };
}

/** The manifest of a package's files. */
export function manifestOf(run: string, treeSize: number, files: Record<string, Buffer>): Buffer {
  const names = Object.keys(files).filter((f) => f !== EVIDENCE_FILES.signature);
  return jsonFile({
    format: EVIDENCE_FORMAT,
    run,
    treeSize,
    files: Object.fromEntries(names.map((f) => [f, sha256(files[f]!).toString('hex')])),
  });
}
