/**
 * The tamper-evident audit ledger: canonical events, an RFC 9162 Merkle tree in SQLite, signed
 * C2SP-style checkpoints, full-file verification, proofs and offline evidence packages.
 * See docs/ledger.md.
 */
export {
  type AuditEvent,
  type JsonObject,
  type JsonValue,
  assertNoSecrets,
  canonicalBytes,
  canonicalJson,
  decodeEvent,
  encodeEvent,
  isSecretKey,
} from './canonical.ts';
export {
  CompactRange,
  type CompletedNode,
  EMPTY_ROOT,
  MerkleTree,
  type NodeReader,
  buildConsistencyProof,
  buildInclusionProof,
  hashChildren,
  hashLeaf,
  rangeHash,
  rootAt,
  treeHead,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';
export {
  type Checkpoint,
  type CheckpointSigner,
  type GeneratedKeyPair,
  type RemoteCheckpointSigner,
  type SignedCheckpoint,
  asAsyncSigner,
  checkpointSignatureProblem,
  checkpointText,
  createSigner,
  formatSignedCheckpoint,
  generateKeyPair,
  keyIdFor,
  loadPrivateKey,
  loadPublicKey,
  parseSignedCheckpoint,
  publicKeyPem,
  rawPublicKey,
  verifyCheckpoint,
} from './checkpoint.ts';
export * from './ledger-options.ts';
export {
  keyFingerprint,
  normalizeFingerprint,
  resolveTrustedKey,
  type TrustedKey,
  type TrustInputs,
} from './trust.ts';
export {
  createTransitSigner,
  DEFAULT_TRANSIT_MOUNT,
  readTransitPublicKey,
  type TransitSignerOptions,
  transitSignerPolicy,
} from './transit-signer.ts';
export {
  type AppendResult,
  type DuplicateEvent,
  type EntryQuery,
  type EntryView,
  LEDGER_SCHEMA_SQL,
  LEDGER_TRIGGERS,
  type LedgerEntry,
  LedgerStore,
  entryView,
} from './ledger-store.ts';
export {
  type LedgerFault,
  type LedgerProblem,
  type LedgerVerification,
  type VerifiedHead,
  type VerifyOptions,
  assertLedgerIntact,
  verifyLedger,
} from './verify.ts';
export {
  type ConsistencyProof,
  type InclusionProof,
  type Verdict,
  checkConsistencyProof,
  checkInclusionProof,
  proveConsistency,
  proveInclusion,
} from './prove.ts';
export {
  EVIDENCE_FILES,
  EVIDENCE_FORMAT,
  type EvidenceSummary,
  type EvidenceSignature,
  type ExportOptions,
  type VerifyEvidenceOptions,
  evidenceToSign,
  exportEvidence,
  localEvidenceSigner,
  signEvidence,
  verifyEvidence,
} from './evidence.ts';
export { evidenceStatement, jsonDigest, type Provenance, provenanceOf } from './evidence-format.ts';
export * from './ledger-writer-options.ts';
export { ledgerWriterKind, loadOrCreateSigner } from './ledger-writer.ts';
