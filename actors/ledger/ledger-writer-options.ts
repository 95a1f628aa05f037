/**
 * Options of the ledger-writer actor: defaults (one constant each, unit in the name) and the pure
 * resolution of its start arguments and environment into settings.
 *
 * | arg | env | default |
 * | --- | --- | --- |
 * | `dataDir` | `AGOV_DATA_DIR` | `.data` |
 * | `db` | | `<dataDir>/ledger.sqlite` |
 * | `key` (Ed25519 seed hex/base64 or PKCS#8 PEM) | `AGOV_LEDGER_KEY` | the key file below |
 * | `keyFile` | | `<dataDir>/ledger-key.pem` (generated 0600 on first start, public key beside it) |
 * | `origin` | | `agent-governance.local/ledger` |
 * | `checkpointEveryEntries` | | 1000 |
 * | `checkpointIntervalMs` | | 30 000 |
 * | `batchMaxEntries` | | 1000 |
 * | `ackWaitMs` | | 30 000 |
 * | `maxAckPending` | | 20 000 |
 * | `consumer` (durable name) | | `ledger-writer` |
 * | `maxQueryEntries` | | 1000 |
 * | `synchronous` (`FULL`/`NORMAL`) | | `FULL` |
 * | `secrets` (`strip`/`refuse`) | | `strip` |
 */
import { join, resolve } from 'node:path';
import { DEFAULT_DATA_DIR } from '../../infra/services.ts';
import { ConfigError } from '../../protocols/errors.ts';
import {
  DEFAULT_CHECKPOINT_EVERY_ENTRIES,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_LEDGER_ORIGIN,
  DEFAULT_QUERY_LIMIT_ENTRIES,
  DEFAULT_SYNCHRONOUS,
} from './ledger-options.ts';

/** Ledger file name inside the data dir. */
export const DEFAULT_LEDGER_FILE = 'ledger.sqlite';
/** Signing key (PKCS#8 PEM, mode 0600) generated inside the data dir when none is configured. */
export const DEFAULT_LEDGER_KEY_FILE = 'ledger-key.pem';
/** Public half of the generated key (SPKI PEM), written beside it. */
export const DEFAULT_LEDGER_PUBLIC_KEY_FILE = 'ledger-key.pub.pem';
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
}

function str(args: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = args[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ConfigError(`ledger-writer arg ${name} must be a string`);
  return v;
}

function int(args: Readonly<Record<string, unknown>>, name: string, dflt: number, min: number): number {
  const raw = args[name];
  if (raw === undefined || raw === null || raw === '') return dflt;
  const v = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new ConfigError(
      `ledger-writer arg ${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`,
    );
  }
  return v;
}

function oneOf<T extends string>(
  args: Readonly<Record<string, unknown>>,
  name: string,
  allowed: readonly T[],
  dflt: T,
): T {
  const v = str(args, name);
  if (v === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(v))
    throw new ConfigError(`ledger-writer arg ${name} must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** Default ledger path for a data dir (the CLI uses it too). */
export function defaultLedgerPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(resolve(env.AGOV_DATA_DIR ?? DEFAULT_DATA_DIR), DEFAULT_LEDGER_FILE);
}

/** Resolves start arguments and environment into writer settings. Pure; throws ConfigError. */
export function resolveLedgerWriterSettings(
  args: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): LedgerWriterSettings {
  const dataDir = resolve(str(args, 'dataDir') ?? env.AGOV_DATA_DIR ?? DEFAULT_DATA_DIR);
  const keyFile = resolve(dataDir, str(args, 'keyFile') ?? DEFAULT_LEDGER_KEY_FILE);
  const publicKeyFile = keyFile.endsWith('.pem')
    ? keyFile.replace(/\.pem$/, '.pub.pem')
    : `${keyFile}.pub.pem`;
  return {
    dataDir,
    dbPath: resolve(dataDir, str(args, 'db') ?? DEFAULT_LEDGER_FILE),
    key: str(args, 'key') ?? (env.AGOV_LEDGER_KEY || undefined),
    keyFile,
    publicKeyFile,
    origin: str(args, 'origin') ?? DEFAULT_LEDGER_ORIGIN,
    checkpointEveryEntries: int(args, 'checkpointEveryEntries', DEFAULT_CHECKPOINT_EVERY_ENTRIES, 0),
    checkpointIntervalMs: int(args, 'checkpointIntervalMs', DEFAULT_CHECKPOINT_INTERVAL_MS, 0),
    batchMaxEntries: int(args, 'batchMaxEntries', DEFAULT_BATCH_MAX_ENTRIES, 1),
    ackWaitMs: int(args, 'ackWaitMs', DEFAULT_ACK_WAIT_MS, 100),
    maxAckPending: int(args, 'maxAckPending', DEFAULT_MAX_ACK_PENDING_ENTRIES, 1),
    consumer: str(args, 'consumer') ?? DEFAULT_LEDGER_CONSUMER,
    maxQueryEntries: int(args, 'maxQueryEntries', DEFAULT_MAX_QUERY_ENTRIES, 1),
    synchronous: oneOf(args, 'synchronous', ['FULL', 'NORMAL'] as const, DEFAULT_SYNCHRONOUS),
    secrets: oneOf(args, 'secrets', ['strip', 'refuse'] as const, DEFAULT_SECRET_POLICY),
  };
}
