/**
 * Options of the ledger-writer actor: defaults (one constant each, unit in the name), the schema of
 * its start arguments and their compilation into settings. (`agov actor ledger-writer` takes `dataDir`
 * from AGOV_DATA_DIR and `key` from AGOV_LEDGER_KEY when not given: system/environment-args.ts.)
 *
 * | arg | env | default |
 * | --- | --- | --- |
 * | `dataDir` | `AGOV_DATA_DIR` | `.data` |
 * | `db` | | `<dataDir>/ledger.sqlite` |
 * | `key` (Ed25519 seed hex/base64 or PKCS#8 PEM) | `AGOV_LEDGER_KEY` | the key file below |
 * | `keyFile` | | `<dataDir>/ledger-key.pem` (generated 0600 on first start, public key beside it) |
 * | `origin` | | `agent-governance.local/ledger` |
 * | `checkpointEveryEntries` | | 1000 |
 * | `checkpointIntervalMs` | | 1 000 |
 * | `batchMaxEntries` | | 1000 |
 * | `ackWaitMs` | | 30 000 |
 * | `maxAckPending` | | 20 000 |
 * | `consumer` (durable name) | | `ledger-writer` |
 * | `maxQueryEntries` | | 1000 |
 * | `synchronous` (`FULL`/`NORMAL`) | | `FULL` |
 * | `secrets` (`strip`/`refuse`) | | `strip` |
 * | `signer` (`local`/`vault-transit`) | | `local` (the system passes `vault-transit`) |
 * | `vaultAddr`, `vaultToken` | | none (needed for `vault-transit`) |
 * | `transitKey` | | `agov-ledger` |
 * | `transitCreate` | | false |
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_DATA_DIR } from '../../infra/index.ts';
import { arg } from '../runtime/index.ts';
import {
  DEFAULT_LEDGER_TRANSIT_KEY,
  DEFAULT_CHECKPOINT_EVERY_ENTRIES,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_LEDGER_ORIGIN,
  DEFAULT_QUERY_LIMIT_ENTRIES,
  DEFAULT_SYNCHRONOUS,
  DEFAULT_LEDGER_FILE,
  DEFAULT_LEDGER_KEY_FILE,
} from './ledger-options.ts';

/** Durable name of the one pull consumer on the AUDIT stream. */
export const DEFAULT_LEDGER_CONSUMER = 'ledger-writer';
/** Most events appended (and fsynced) in one transaction. */
export const DEFAULT_BATCH_MAX_ENTRIES = 1000;
/** JetStream redelivers a message not acked within this time (e.g. the writer died mid-batch). */
export const DEFAULT_ACK_WAIT_MS = 30_000;
/** Most delivered-but-unacked messages the server lets the writer hold. */
export const DEFAULT_MAX_ACK_PENDING_ENTRIES = 20_000;
/** Most entries one ledger.query.v1 answer carries. */
export const DEFAULT_MAX_QUERY_ENTRIES = DEFAULT_QUERY_LIMIT_ENTRIES;
/** Where the checkpoint key lives when nothing says: a local key, as `agov actor ledger-writer` alone has no Vault. */
export const DEFAULT_LEDGER_SIGNER = 'local' as const;
export { DEFAULT_LEDGER_TRANSIT_KEY };
/** What the envelope → event mapping does with a secret in a body. */
export const DEFAULT_SECRET_POLICY = 'strip' as const;

export { DEFAULT_CHECKPOINT_EVERY_ENTRIES, DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_LEDGER_ORIGIN };

export type SecretPolicy = 'strip' | 'refuse';

export interface LedgerWriterSettings {
  dataDir: string;
  dbPath: string;
  /** Key material from configuration (arg or AGOV_LEDGER_KEY); undefined → key file. */
  key: string | undefined;
  keyFile: string;
  publicKeyFile: string;
  origin: string;
  checkpointEveryEntries: number;
  checkpointIntervalMs: number;
  batchMaxEntries: number;
  ackWaitMs: number;
  maxAckPending: number;
  consumer: string;
  maxQueryEntries: number;
  synchronous: 'FULL' | 'NORMAL';
  secrets: SecretPolicy;
  signer: 'local' | 'vault-transit';
  vaultAddr?: string;
  vaultToken?: string;
  transitKey: string;
  transitCreate: boolean;
}

/** Start arguments of the ledger writer (kind `ledger-writer`). */
export const LedgerWriterArgsSchema = z.strictObject({
  dataDir: arg.text().default(DEFAULT_DATA_DIR),
  /** The ledger file (relative to dataDir), default `ledger.sqlite`. */
  db: arg.text().default(DEFAULT_LEDGER_FILE),
  /** Key material (Ed25519 seed hex/base64 or PKCS#8 PEM); absent: the key file. */
  key: arg.text().optional(),
  keyFile: arg.text().default(DEFAULT_LEDGER_KEY_FILE),
  origin: arg.text().default(DEFAULT_LEDGER_ORIGIN),
  checkpointEveryEntries: arg.int(0).default(DEFAULT_CHECKPOINT_EVERY_ENTRIES),
  checkpointIntervalMs: arg.int(0).default(DEFAULT_CHECKPOINT_INTERVAL_MS),
  batchMaxEntries: arg.int(1).default(DEFAULT_BATCH_MAX_ENTRIES),
  ackWaitMs: arg.int(100).default(DEFAULT_ACK_WAIT_MS),
  maxAckPending: arg.int(1).default(DEFAULT_MAX_ACK_PENDING_ENTRIES),
  consumer: arg.text().default(DEFAULT_LEDGER_CONSUMER),
  maxQueryEntries: arg.int(1).default(DEFAULT_MAX_QUERY_ENTRIES),
  synchronous: z.enum(['FULL', 'NORMAL']).default(DEFAULT_SYNCHRONOUS),
  secrets: z.enum(['strip', 'refuse']).default(DEFAULT_SECRET_POLICY),
  /** Where the checkpoint key lives: `vault-transit` (the system's default) or a `local` key file / `key`. */
  signer: z.enum(['local', 'vault-transit']).default(DEFAULT_LEDGER_SIGNER),
  vaultAddr: arg.text().optional(),
  /** A token allowed only to sign with the transit key and read it (transitSignerPolicy). */
  vaultToken: arg.text().optional(),
  transitKey: arg.text().default(DEFAULT_LEDGER_TRANSIT_KEY),
  /** Create the transit key on first start (the token then also needs update on transit/keys/<key>). */
  transitCreate: arg.bool().default(false),
});
export type LedgerWriterArgs = z.output<typeof LedgerWriterArgsSchema>;

/** Compiles the writer's parsed start arguments into settings (paths resolved). */
export function ledgerWriterSettings(args: LedgerWriterArgs): LedgerWriterSettings {
  const dataDir = resolve(args.dataDir);
  const keyFile = resolve(dataDir, args.keyFile);
  const publicKeyFile = keyFile.endsWith('.pem')
    ? keyFile.replace(/\.pem$/, '.pub.pem')
    : `${keyFile}.pub.pem`;
  return {
    ...args,
    dataDir,
    dbPath: resolve(dataDir, args.db),
    key: args.key,
    keyFile,
    publicKeyFile,
  };
}
