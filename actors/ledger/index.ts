/**
 * The tamper-evident audit ledger: canonical events, an RFC 9162 Merkle tree in SQLite, signed
 * C2SP-style checkpoints, full-file verification, proofs and offline evidence packages.
 * See docs/ledger.md.
 */
export * from './reader.ts';
export {
  createTransitSigner,
  DEFAULT_TRANSIT_MOUNT,
  readTransitPublicKey,
  type TransitSignerOptions,
  transitSignerPolicy,
} from './transit-signer.ts';
export * from './ledger-writer-options.ts';
export { ledgerWriterKind, loadOrCreateSigner } from './ledger-writer.ts';
