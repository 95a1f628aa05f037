/**
 * Options of the witness actor: its own directory (store and key, never the ledger's file), the ledger
 * it witnesses (origin, pinned public key), and where to ask for consistency proofs.
 *
 * | arg | default |
 * | --- | --- |
 * | `dataDir` | `.data` (AGOV_DATA_DIR) |
 * | `dir` | `<dataDir>/witness/<id>` (store `witness.sqlite`, key `witness-key.pem` 0600) |
 * | `origin` | the ledger's default origin |
 * | `ledgerKey` | none: the key pinned in the store on first start (SPKI PEM text) |
 * | `proofTimeoutMs` | 5 000 |
 */
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_DATA_DIR } from '../../infra/environment.ts';
import { DEFAULT_LEDGER_ORIGIN } from '../ledger/index.ts';
import { arg } from '../runtime/start-args.ts';

export const DEFAULT_WITNESS_SUBDIR = 'witness';
export const DEFAULT_WITNESS_STORE_FILE = 'witness.sqlite';
export const DEFAULT_WITNESS_KEY_FILE = 'witness-key.pem';
/** How long the witness waits for the ledger writer's consistency proof before refusing to decide. */
export const DEFAULT_WITNESS_PROOF_TIMEOUT_MS = 5_000;

export const WitnessArgsSchema = z.strictObject({
  dataDir: arg.text().default(DEFAULT_DATA_DIR),
  dir: arg.text().optional(),
  origin: arg.text().default(DEFAULT_LEDGER_ORIGIN),
  /** The ledger's public key (SPKI PEM). Pinned in the store on first start; a different one later is refused. */
  ledgerKey: arg.text().optional(),
  proofTimeoutMs: arg.positive().default(DEFAULT_WITNESS_PROOF_TIMEOUT_MS),
});
export type WitnessArgs = z.output<typeof WitnessArgsSchema>;

export interface WitnessSettings extends WitnessArgs {
  dir: string;
  storeFile: string;
  keyFile: string;
}

export function witnessSettings(args: WitnessArgs, id: string): WitnessSettings {
  const dir = resolve(args.dir ?? join(args.dataDir, DEFAULT_WITNESS_SUBDIR, id));
  return {
    ...args,
    dir,
    storeFile: join(dir, DEFAULT_WITNESS_STORE_FILE),
    keyFile: join(dir, DEFAULT_WITNESS_KEY_FILE),
  };
}
