import { z } from 'zod';

const seq = z.number().int().nonnegative();
const hex32 = z.string().regex(/^[0-9a-f]{64}$/);

/** One ledger entry as served over the bus (`data` is the audited envelope's body). */
export const LedgerEntrySchema = z.object({
  seq,
  id: z.string(),
  ts: z.number().int().nonnegative(),
  type: z.string(),
  actor: z.string(),
  run: z.string().optional(),
  agent: z.string().optional(),
  /** The authenticated sender (the principal the broker let publish on the audit subject). */
  sender: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
  /** SHA-256(0x00 || canonical body), hex. */
  leafHash: hex32,
});

const LedgerFaultSchema = z.object({
  seq: z.number().int(),
  problem: z.enum([
    'modified',
    'deleted',
    'inserted',
    'reordered',
    'root-mismatch',
    'bad-checkpoint',
    'node-cache',
  ]),
  detail: z.string(),
  eventId: z.string().optional(),
});

/**
 * The audit ledger: queries and proofs served by the ledger writer (`gov.svc.ledger-writer`, or its
 * inbox), and the signed tree heads it publishes on the feed (`gov.obs.ledger.checkpoint`).
 */
export const ledgerMessages = {
  /** Entries matching every given filter, by seq. Ranges are half-open: [fromSeq, toSeq), [fromTs, toTs). */
  'ledger.query.v1': z.object({
    run: z.string().optional(),
    agent: z.string().optional(),
    type: z.string().optional(),
    fromTs: z.number().int().nonnegative().optional(),
    toTs: z.number().int().nonnegative().optional(),
    fromSeq: seq.optional(),
    toSeq: seq.optional(),
    /** Capped by the writer's maxQueryEntries (default 1000). */
    limit: z.number().int().positive().optional(),
    order: z.enum(['asc', 'desc']).optional(),
  }),
  'ledger.entries.v1': z.object({
    entries: z.array(LedgerEntrySchema),
    /** Ledger size when the query ran. */
    size: seq,
    /** True when the limit cut the answer short (ask again from the last seq + 1). */
    more: z.boolean(),
  }),
  /** Inclusion proof of the entry at `seq` (the writer signs a checkpoint first when none covers it yet). */
  'ledger.prove.v1': z.object({ seq }),
  'ledger.inclusion.v1': z.object({
    seq,
    leafHash: hex32,
    treeSize: seq,
    path: z.array(hex32),
    /** Signed checkpoint (C2SP signed note) the path leads to. */
    checkpoint: z.string(),
    /** The entry's canonical JSON (hash it with a 0x00 prefix to get leafHash). */
    body: z.string(),
  }),
  /** Consistency proof between the stored checkpoints of sizes m and n (m <= n). */
  'ledger.consistency.v1': z.object({ m: seq, n: seq }),
  'ledger.consistency-proof.v1': z.object({
    fromSize: seq,
    toSize: seq,
    path: z.array(hex32),
    from: z.string(),
    to: z.string(),
  }),
  /** Full verification of the ledger file (blocks the writer for about 1.6 s per 50 000 entries). */
  'ledger.verify.v1': z.object({}),
  'ledger.verification.v1': z.object({
    ok: z.boolean(),
    size: seq,
    signedSize: seq,
    unsignedEntries: seq,
    checkedCheckpoints: seq,
    root: z.string().optional(),
    firstBad: LedgerFaultSchema.optional(),
    warnings: z.array(z.string()),
    /** Rows read and checked (every row: this is a full verification). */
    rowsRead: seq.optional(),
  }),
  /** Latest signed checkpoint; `fresh` signs one of the current size first when the tree has grown. */
  'ledger.head.v1': z.object({ fresh: z.boolean().optional() }),
  /** A signed tree head: the reply to ledger.head.v1, and on the feed `gov.obs.ledger.checkpoint` when signed. */
  'ledger.checkpoint.v1': z.object({
    origin: z.string(),
    size: seq,
    /** Root hash, hex. */
    root: hex32,
    ts: z.number().int().nonnegative(),
    keyId: z.string(),
    /** The full signed note (checkpoint text, blank line, signature line). */
    checkpoint: z.string(),
    /** Ledger size when sent (>= size: entries past the checkpoint are not signed yet). */
    ledgerSize: seq,
    /** `sha256:<hex>` of the signing key, to compare with a pinned fingerprint. */
    keyFingerprint: z.string().optional(),
    /** Witness cosignature lines (C2SP tlog-cosignature) the writer holds for this checkpoint. */
    cosignatures: z.array(z.string()).optional(),
  }),
  /** Ask the ledger writer which key signs its checkpoints (also on the feed `gov.obs.ledger.key` at start). */
  'ledger.key.v1': z.object({}),
  'ledger.public-key.v1': z.object({
    origin: z.string(),
    /** SPKI PEM of the Ed25519 checkpoint key (the private half lives in Vault transit). */
    publicKey: z.string(),
    /** `sha256:<hex>` of the raw public key: what verifiers pin (`agov ledger verify --fingerprint`). */
    fingerprint: z.string(),
    /** The signed-note key ID (4 bytes, hex) that checkpoints carry. */
    keyId: z.string(),
    /** Where the private half lives: `vault-transit` or `local`. */
    signer: z.enum(['vault-transit', 'local']),
  }),
  /**
   * Sign an evidence package (agov-ledger-evidence/2): `manifest` is its manifest.json text. The writer
   * rebuilds every file it can from its own ledger (entries, proofs, checkpoint, witnesses, provenance)
   * and signs only a manifest whose hashes match them, and whose handoff report is one the ledger recorded.
   */
  'ledger.evidence-sign.v1': z.object({
    manifest: z.string().max(64 * 1024),
    /** handoff.json's text, when the package carries the run's handoff report. */
    handoff: z
      .string()
      .max(512 * 1024)
      .optional(),
  }),
  'ledger.evidence-signature.v1': z.object({
    /** The signed statement (evidenceStatement): format, run, manifest SHA-256. */
    statement: z.string(),
    /** Ed25519 signature over the statement's UTF-8 bytes, base64, by the checkpoint key. */
    signature: z.string(),
    keyFingerprint: z.string(),
  }),
  /** On the feed `gov.obs.ledger.appended` after each committed batch: entries [fromSeq, toSeq) are new. */
  'ledger.appended.v1': z.object({ fromSeq: seq, toSeq: seq, duplicates: seq, deadLettered: seq }),
} as const;
