/**
 * Witness cosignatures in the C2SP tlog-cosignature/v1 form, so any checker of Go's sumdb/sigsum
 * witnesses can read them:
 *
 *   signed message = "cosignature/v1\n" + "time <unix seconds>\n" + <checkpoint note text>
 *   signature line = "— <witness name> " + base64(key ID (4) || time (8, big-endian) || Ed25519 sig (64))
 *   key ID         = SHA-256(<witness name> || 0x0A || 0x04 || 32-byte public key)[:4]
 *
 * The checkpoint note text is the ledger's (docs/ledger.md): origin, size, root, `ts` line.
 */
import { createHash, type KeyObject, sign as edSign, verify as edVerify } from 'node:crypto';
import { type Checkpoint, checkpointText, rawPublicKey } from '../ledger/reader.ts';

const COSIGNATURE_TYPE = 0x04;
const EM_DASH = '\u2014';

export interface Cosignature {
  /** The witness's name (its key name). */
  witness: string;
  /** 4-byte key ID, hex. */
  keyId: string;
  /** Cosigning time, seconds since the epoch. */
  time: number;
  /** 64-byte Ed25519 signature. */
  signature: Buffer;
}

export function cosignatureKeyId(witness: string, publicKey: KeyObject): string {
  const h = createHash('sha256')
    .update(witness, 'utf8')
    .update(Buffer.from([0x0a, COSIGNATURE_TYPE]))
    .update(rawPublicKey(publicKey))
    .digest();
  return h.subarray(0, 4).toString('hex');
}

export function cosignedMessage(cp: Checkpoint, time: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${time}\n${checkpointText(cp)}`, 'utf8');
}

export function cosign(
  cp: Checkpoint,
  witness: string,
  privateKey: KeyObject,
  publicKey: KeyObject,
  time: number,
): Cosignature {
  return {
    witness,
    keyId: cosignatureKeyId(witness, publicKey),
    time,
    signature: edSign(null, cosignedMessage(cp, time), privateKey),
  };
}

/** Why the cosignature does not hold for this checkpoint under this witness key, or undefined. */
export function cosignatureProblem(
  cp: Checkpoint,
  cs: Cosignature,
  publicKey: KeyObject,
): string | undefined {
  const expected = cosignatureKeyId(cs.witness, publicKey);
  if (cs.keyId !== expected)
    return `cosignature key ID ${cs.keyId} is not witness ${cs.witness}'s ${expected}`;
  if (cs.signature.length !== 64) return 'cosignature is not 64 bytes';
  return edVerify(null, cosignedMessage(cp, cs.time), publicKey, cs.signature)
    ? undefined
    : `cosignature of witness ${cs.witness} does not verify`;
}

/** The signature line to append to a signed note. */
export function formatCosignatureLine(cs: Cosignature): string {
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(BigInt(cs.time));
  const blob = Buffer.concat([Buffer.from(cs.keyId, 'hex'), time, cs.signature]).toString('base64');
  return `${EM_DASH} ${cs.witness} ${blob}\n`;
}

export function parseCosignatureLine(line: string): Cosignature {
  const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)\n?$/.exec(line);
  if (!m) throw new RangeError('not a signature line');
  const blob = Buffer.from(m[2]!, 'base64');
  if (blob.length !== 4 + 8 + 64) throw new RangeError('a cosignature line holds 76 bytes');
  return {
    witness: m[1]!,
    keyId: blob.subarray(0, 4).toString('hex'),
    time: Number(blob.readBigUInt64BE(4)),
    signature: Buffer.from(blob.subarray(12)),
  };
}
