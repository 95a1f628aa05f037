/**
 * Pinned trust for ledger verification. A key found beside the ledger file proves nothing (whoever can
 * rewrite the file can swap it), so verifiers take the key from a pin the operator keeps elsewhere:
 * the key itself (`--key`), or its fingerprint (`--fingerprint`, `AGOV_LEDGER_KEY_FINGERPRINT`), and
 * refuse when the key beside the file is not the pinned one. Unpinned verification still works, with a
 * warning that says what it trusted.
 *
 * Fingerprint = `sha256:` + hex SHA-256 of the raw 32-byte Ed25519 public key.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { ConfigError, LedgerTamperedError } from '../../protocols/vocabulary/index.ts';
import { rawPublicKey } from './checkpoint.ts';

export function keyFingerprint(key: KeyObject): string {
  return `sha256:${createHash('sha256').update(rawPublicKey(key)).digest('hex')}`;
}

/** Accepts `sha256:<hex>` or bare hex, any case. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new ConfigError(`a key fingerprint is sha256:<64 hex digits>, got ${JSON.stringify(fp)}`);
  }
  return `sha256:${hex}`;
}

export interface TrustInputs {
  /** The pinned key itself (from `--key` or configuration). */
  pinnedKey?: KeyObject;
  /** The pinned fingerprint. */
  pinnedFingerprint?: string;
  /** The key found beside the ledger (or in an evidence package), if any. */
  besideKey?: KeyObject;
  /** Where `besideKey` came from, for messages. */
  besideSource?: string;
}

export interface TrustedKey {
  key: KeyObject;
  fingerprint: string;
  pinned: boolean;
  warnings: string[];
}

/**
 * The key to verify with. Throws LedgerTamperedError when the key beside the file is not the pinned
 * one (a swapped key), ConfigError when there is nothing to verify with.
 */
export function resolveTrustedKey(inputs: TrustInputs): TrustedKey {
  const where = inputs.besideSource ?? 'beside the ledger';
  const besideFp = inputs.besideKey ? keyFingerprint(inputs.besideKey) : undefined;
  const pinFp = inputs.pinnedKey
    ? keyFingerprint(inputs.pinnedKey)
    : inputs.pinnedFingerprint
      ? normalizeFingerprint(inputs.pinnedFingerprint)
      : undefined;
  if (
    inputs.pinnedKey &&
    inputs.pinnedFingerprint &&
    normalizeFingerprint(inputs.pinnedFingerprint) !== pinFp
  ) {
    throw new ConfigError(
      `the pinned key's fingerprint is ${pinFp}, not the pinned fingerprint ${inputs.pinnedFingerprint}`,
    );
  }
  if (pinFp && besideFp && besideFp !== pinFp) {
    throw new LedgerTamperedError(
      `the public key ${where} (${besideFp}) is not the pinned key (${pinFp}): it was swapped or belongs to another ledger`,
    );
  }
  if (inputs.pinnedKey) return { key: inputs.pinnedKey, fingerprint: pinFp!, pinned: true, warnings: [] };
  if (pinFp) {
    if (!inputs.besideKey) {
      throw new ConfigError(
        `only a fingerprint is pinned (${pinFp}) and no public key is ${where}: pass --key PATH`,
      );
    }
    return { key: inputs.besideKey, fingerprint: pinFp, pinned: true, warnings: [] };
  }
  if (!inputs.besideKey)
    throw new ConfigError(`no public key: pass --key PATH or --fingerprint (none ${where})`);
  return {
    key: inputs.besideKey,
    fingerprint: besideFp!,
    pinned: false,
    warnings: [
      `not pinned: trusting the public key ${where} (${besideFp}); pin it with --fingerprint or AGOV_LEDGER_KEY_FINGERPRINT`,
    ],
  };
}
