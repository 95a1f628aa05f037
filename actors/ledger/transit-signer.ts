/**
 * Checkpoint signing through Vault's transit engine: the Ed25519 private key never leaves Vault, so
 * nothing in the ledger's data directory (or anywhere a task could read) can re-sign history. The
 * ledger writer holds only a Vault token whose policy allows `update` on `transit/sign/<key>` and
 * `read` on `transit/keys/<key>` (see {@link transitSignerPolicy}).
 *
 * Vault signs Ed25519 input as is (no prehash), so the signature is the RFC 8032 signature over the
 * checkpoint's note text and opens with the plain public key, exactly like a locally signed one.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import nodeVault from 'node-vault';
import { ConfigError, VaultError } from '../../protocols/index.ts';
import { DEFAULT_LEDGER_TRANSIT_KEY } from './ledger-options.ts';
import { type Checkpoint, checkpointText, keyIdFor, type RemoteCheckpointSigner } from './checkpoint.ts';

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface TransitSignerOptions {
  /** Vault address (VAULT_ADDR). */
  addr: string;
  /** A token allowed to sign with the key and read its public half; never the root token in production. */
  token: string;
  /** The transit key's name. */
  transitKey: string;
  /** The checkpoint origin (the signed note's key name). */
  keyName: string;
  /** Mount path of the transit engine; `transit` by default. */
  mount?: string;
  /** Create the key when it does not exist (first start); needs `update` on `transit/keys/<key>`. */
  create?: boolean;
  requestTimeoutMs?: number;
}

export const DEFAULT_TRANSIT_MOUNT = 'transit';
export const DEFAULT_TRANSIT_REQUEST_TIMEOUT_MS = 5_000;

/** The ACL policy a ledger writer's Vault token needs: sign with one key and read its public half. */
export function transitSignerPolicy(transitKey: string, mount = DEFAULT_TRANSIT_MOUNT): string {
  return [
    `path "${mount}/sign/${transitKey}" { capabilities = ["update"] }`,
    `path "${mount}/keys/${transitKey}" { capabilities = ["read"] }`,
  ].join('\n');
}

interface VaultLike {
  read(path: string): Promise<{ data?: Record<string, unknown> }>;
  write(path: string, data: Record<string, unknown>): Promise<{ data?: Record<string, unknown> } | undefined>;
}

/** The public key of a transit Ed25519 key (its latest version). */
export async function readTransitPublicKey(
  vault: VaultLike,
  mount: string,
  transitKey: string,
): Promise<KeyObject> {
  const res = await vault.read(`${mount}/keys/${transitKey}`);
  const data = res.data ?? {};
  if (data.type !== 'ed25519') throw new ConfigError(`transit key ${transitKey} is not an ed25519 key`);
  const latest = String(data.latest_version ?? '1');
  const keys = data.keys as Record<string, { public_key?: string }> | undefined;
  const b64 = keys?.[latest]?.public_key;
  if (!b64) throw new ConfigError(`transit key ${transitKey} has no public key for version ${latest}`);
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 32) throw new ConfigError(`transit key ${transitKey}: public key is not 32 bytes`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

function vaultError(what: string, err: unknown): VaultError {
  const status = (err as { response?: { statusCode?: number } }).response?.statusCode;
  return new VaultError(`${what} failed${status ? ` (HTTP ${status})` : ''}`, {
    retryable: status === undefined || status >= 500 || status === 429,
    cause: err instanceof Error ? err.message : String(err),
  });
}

export async function createTransitSigner(opts: TransitSignerOptions): Promise<RemoteCheckpointSigner> {
  const mount = opts.mount ?? DEFAULT_TRANSIT_MOUNT;
  const vault = nodeVault({
    endpoint: opts.addr,
    token: opts.token,
    requestOptions: { timeout: opts.requestTimeoutMs ?? DEFAULT_TRANSIT_REQUEST_TIMEOUT_MS },
  }) as unknown as VaultLike;
  if (opts.create) {
    try {
      await vault.write(`${mount}/keys/${opts.transitKey}`, { type: 'ed25519' });
    } catch (err) {
      throw vaultError(`creating transit key ${opts.transitKey}`, err);
    }
  }
  let publicKey: KeyObject;
  try {
    publicKey = await readTransitPublicKey(vault, mount, opts.transitKey);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw vaultError(`reading transit key ${opts.transitKey}`, err);
  }
  const keyId = keyIdFor(opts.keyName, publicKey);
  const transitSign = async (text: string): Promise<Buffer> => {
    const input = Buffer.from(text, 'utf8').toString('base64');
    let res: { data?: Record<string, unknown> } | undefined;
    try {
      res = await vault.write(`${mount}/sign/${opts.transitKey}`, { input });
    } catch (err) {
      throw vaultError('transit sign', err);
    }
    const sig = String(res?.data?.signature ?? '');
    const m = /^vault:v\d+:(.+)$/.exec(sig);
    if (!m) throw new VaultError('transit sign returned no signature', { retryable: true });
    return Buffer.from(m[1]!, 'base64');
  };
  return {
    keyName: opts.keyName,
    keyId,
    publicKey,
    async sign(cp: Checkpoint) {
      if (cp.origin !== opts.keyName) {
        throw new ConfigError(`checkpoint origin "${cp.origin}" is not the key name "${opts.keyName}"`);
      }
      const signature = await transitSign(checkpointText(cp));
      return { ...cp, root: Buffer.from(cp.root), keyName: opts.keyName, keyId, signature };
    },
    signText: transitSign,
  };
}

export { DEFAULT_LEDGER_TRANSIT_KEY };
