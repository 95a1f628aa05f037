import { z } from 'zod';

const seq = z.number().int().nonnegative();
const hex32 = z.string().regex(/^[0-9a-f]{64}$/);

/** A witness's cosignature of one ledger checkpoint (C2SP tlog-cosignature/v1; docs/ledger.md "Witnesses"). */
const CosignatureSchema = z.object({
  witness: z.string(),
  origin: z.string(),
  size: seq,
  /** Root hash, hex. */
  root: hex32,
  /** Cosignature key ID, hex (4 bytes). */
  keyId: z.string().regex(/^[0-9a-f]{8}$/),
  /** Cosigning time, seconds since the epoch. */
  time: seq,
  /** The signature line to append to the signed note (`— <witness> <base64>`). */
  line: z.string(),
});

/**
 * Witnesses: actors with their own key and store that cosign each ledger checkpoint they can show to
 * extend the last one they saw, and raise an alarm for a fork or a shrink.
 */
export const witnessMessages = {
  /** Told to the ledger writer (which keeps it beside the checkpoint) and on the feed `gov.obs.witness.cosigned`. */
  'ledger.cosignature.v1': CosignatureSchema,
  /** On the feed `gov.obs.witness.alarm` and in the audit stream: a checkpoint the witness refused. */
  'witness.alarm.v1': z.object({
    witness: z.string(),
    reason: z.enum(['bad-signature', 'wrong-origin', 'shrink', 'fork']),
    detail: z.string(),
    /** The refused signed note. */
    checkpoint: z.string(),
    ts: seq,
  }),
  /** Ask a witness (its inbox or `gov.svc.witness`) what it holds. */
  'witness.status.v1': z.object({ all: z.boolean().optional() }),
  'witness.state.v1': z.object({
    witness: z.string(),
    origin: z.string(),
    /** The witness's public key (SPKI PEM) and its cosignature key ID. */
    publicKey: z.string(),
    keyId: z.string(),
    /** Fingerprint (sha256 of the raw key) of the ledger key this witness is pinned to. */
    ledgerKeyFingerprint: z.string(),
    size: seq,
    alarms: seq,
    /** The latest (or, with `all`, every) cosigned checkpoint: signed note and cosignature line. */
    checkpoints: z.array(z.object({ checkpoint: z.string(), cosignature: z.string() })),
  }),
} as const;
