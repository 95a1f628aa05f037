/**
 * The ledger writer's checkpoint signer (Vault transit, or a local key) and the feed / reply form of a
 * signed checkpoint.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { OutMessage } from '../../protocols/index.ts';
import { ConfigError } from '../../protocols/index.ts';
import {
  asAsyncSigner,
  type CheckpointSigner,
  createSigner,
  formatSignedCheckpoint,
  generateKeyPair,
  publicKeyPem,
  type RemoteCheckpointSigner,
  type SignedCheckpoint,
} from './checkpoint.ts';
import type { LedgerWriterSettings } from './ledger-writer-options.ts';
import { createTransitSigner } from './transit-signer.ts';

/**
 * The signer from configuration, or from the key file (generated on first start, 0600, public key
 * beside it). Throws ConfigError for bad key material.
 */
export function loadOrCreateSigner(settings: LedgerWriterSettings): CheckpointSigner {
  if (settings.key) return createSigner(settings.key, settings.origin);
  if (!existsSync(settings.keyFile)) {
    mkdirSync(dirname(settings.keyFile), { recursive: true });
    const pair = generateKeyPair();
    try {
      // 'wx': never overwrite a key another starting writer just created.
      writeFileSync(settings.keyFile, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  chmodSync(settings.keyFile, 0o600);
  const signer = createSigner(readFileSync(settings.keyFile, 'utf8'), settings.origin);
  const pem = publicKeyPem(signer.publicKey);
  if (!existsSync(settings.publicKeyFile) || readFileSync(settings.publicKeyFile, 'utf8') !== pem) {
    writeFileSync(settings.publicKeyFile, pem, { mode: 0o644 });
  }
  return signer;
}

/**
 * The writer's checkpoint signer: Vault transit (the key never leaves Vault; the writer's token may only
 * sign with it and read its public half), or a local key (tests, offline tools). For a local key the
 * public half is written beside the ledger; for transit too, as a convenience copy that verifiers check
 * against their pin (docs/ledger.md "Trust").
 */
export async function writerSigner(settings: LedgerWriterSettings): Promise<RemoteCheckpointSigner> {
  if (settings.signer === 'local') return asAsyncSigner(loadOrCreateSigner(settings));
  if (!settings.vaultAddr || !settings.vaultToken) {
    throw new ConfigError('signer vault-transit needs vaultAddr and vaultToken', {
      details: { option: 'vaultAddr' },
    });
  }
  const signer = await createTransitSigner({
    addr: settings.vaultAddr,
    token: settings.vaultToken,
    transitKey: settings.transitKey,
    keyName: settings.origin,
    create: settings.transitCreate,
  });
  const pem = publicKeyPem(signer.publicKey);
  if (!existsSync(settings.publicKeyFile) || readFileSync(settings.publicKeyFile, 'utf8') !== pem) {
    writeFileSync(settings.publicKeyFile, pem, { mode: 0o644 });
  }
  return signer;
}

/** The feed / reply form of a signed checkpoint. */
export function checkpointMessage(
  cp: SignedCheckpoint,
  ledgerSize: number,
  extra: { keyFingerprint?: string; cosignatures?: string[] } = {},
): OutMessage<'ledger.checkpoint.v1'> {
  return {
    type: 'ledger.checkpoint.v1',
    body: {
      origin: cp.origin,
      size: cp.size,
      root: cp.root.toString('hex'),
      ts: cp.ts,
      keyId: cp.keyId,
      checkpoint: formatSignedCheckpoint(cp),
      ledgerSize,
      ...extra,
    },
  };
}
