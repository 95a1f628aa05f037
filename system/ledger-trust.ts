/**
 * The ledger's trust anchor, set up when a system starts: the checkpoint key is an Ed25519 key in Vault
 * transit (created on first start), the ledger writer gets a token that may only sign with it and read
 * its public half, and the witness is pinned to that public key. The private key never reaches the data
 * directory or any actor's memory (docs/ledger.md "Trust").
 */
import nodeVault from 'node-vault';
import {
  DEFAULT_LEDGER_TRANSIT_KEY,
  DEFAULT_TRANSIT_MOUNT,
  publicKeyPem,
  readTransitPublicKey,
  transitSignerPolicy,
} from '../actors/ledger/index.ts';
import { ConfigError } from '../protocols/index.ts';

/** The policy name of the ledger writer's sign-only token. */
export const LEDGER_SIGNER_POLICY = 'agov-ledger-signer';
/** Life of the writer's sign-only token; a system restart issues a new one. */
export const DEFAULT_LEDGER_SIGNER_TOKEN_TTL = '768h';

export interface LedgerTrust {
  /** Start arguments of the ledger writer. */
  writerArgs: Record<string, unknown>;
  /** The checkpoint key's public half (SPKI PEM), which the witness pins. */
  publicKeyPem: string;
}

interface VaultLike {
  read(path: string): Promise<{ data?: Record<string, unknown> }>;
  write(
    path: string,
    data: Record<string, unknown>,
  ): Promise<{ data?: Record<string, unknown>; auth?: { client_token?: string } } | undefined>;
}

export async function setUpLedgerTrust(vaultAddr: string, rootToken: string): Promise<LedgerTrust> {
  const vault = nodeVault({ endpoint: vaultAddr, token: rootToken }) as unknown as VaultLike;
  const key = DEFAULT_LEDGER_TRANSIT_KEY;
  try {
    await vault.write(`${DEFAULT_TRANSIT_MOUNT}/keys/${key}`, { type: 'ed25519' });
    await vault.write(`sys/policy/${LEDGER_SIGNER_POLICY}`, { policy: transitSignerPolicy(key) });
    const created = await vault.write('auth/token/create', {
      policies: [LEDGER_SIGNER_POLICY],
      no_default_policy: true,
      ttl: DEFAULT_LEDGER_SIGNER_TOKEN_TTL,
      display_name: 'ledger-writer',
    });
    const token = created?.auth?.client_token;
    if (!token) throw new Error('Vault issued no token');
    const publicKey = await readTransitPublicKey(vault, DEFAULT_TRANSIT_MOUNT, key);
    return {
      writerArgs: { signer: 'vault-transit', vaultAddr, vaultToken: token, transitKey: key },
      publicKeyPem: publicKeyPem(publicKey),
    };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      `cannot set up the ledger's signing key in Vault transit at ${vaultAddr} (is the transit engine mounted at ${DEFAULT_TRANSIT_MOUNT}/?): ${(err as Error).message}`,
    );
  }
}
