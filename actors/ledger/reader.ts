/**
 * The ledger for offline readers — `agov ledger`, `agov evidence`, auditors' scripts: canonical events,
 * the Merkle tree, checkpoints and the pinned key, the SQLite store, verification, proofs and evidence
 * packages. Light on purpose: nothing here loads NATS, Vault or zod (a unit test pins it), so a command
 * that only reads the file starts in a fraction of the time the whole face costs. The writer actor and
 * the Vault transit signer are in index.ts, which re-exports this.
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
