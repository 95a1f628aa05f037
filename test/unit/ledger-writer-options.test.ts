import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair, publicKeyPem } from '../../actors/ledger/index.ts';
import { loadOrCreateSigner } from '../../actors/ledger/ledger-writer.ts';
import {
  DEFAULT_BATCH_MAX_ENTRIES,
  DEFAULT_CHECKPOINT_EVERY_ENTRIES,
  DEFAULT_LEDGER_ORIGIN,
  LedgerWriterArgsSchema,
  ledgerWriterSettings,
} from '../../actors/ledger/ledger-writer-options.ts';
import { parseStartArgs } from '../../actors/runtime/start-args.ts';
import { environmentArgs } from '../../system/index.ts';
import { readEnvironment } from '../../infra/index.ts';

/** As `agov actor ledger-writer` does: the environment's values under the given arguments. */
const resolveLedgerWriterSettings = (args: Record<string, unknown>, env: Record<string, string>) =>
  ledgerWriterSettings(
    parseStartArgs('ledger-writer', LedgerWriterArgsSchema, {
      ...environmentArgs('ledger-writer', readEnvironment(env)),
      ...args,
    }),
  );
import { ConfigError } from '../../protocols/vocabulary/errors.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ledger-writer-opts-'));
  dirs.push(d);
  return d;
};

describe('ledger writer settings', () => {
  it('puts the ledger and the key file in AGOV_DATA_DIR with documented defaults', () => {
    const s = resolveLedgerWriterSettings({}, { AGOV_DATA_DIR: '/srv/agov' });
    expect(s).toMatchObject({
      dataDir: '/srv/agov',
      dbPath: '/srv/agov/ledger.sqlite',
      keyFile: '/srv/agov/ledger-key.pem',
      publicKeyFile: '/srv/agov/ledger-key.pub.pem',
      key: undefined,
      origin: DEFAULT_LEDGER_ORIGIN,
      batchMaxEntries: DEFAULT_BATCH_MAX_ENTRIES,
      checkpointEveryEntries: DEFAULT_CHECKPOINT_EVERY_ENTRIES,
      consumer: 'ledger-writer',
      synchronous: 'FULL',
      secrets: 'strip',
    });
    expect(resolveLedgerWriterSettings({}, {}).dataDir).toBe(resolve('.data'));
  });

  it('prefers arguments over the environment, and takes the key from AGOV_LEDGER_KEY', () => {
    const s = resolveLedgerWriterSettings(
      { dataDir: '/a', db: '/b/l.db', key: 'k-arg', checkpointIntervalMs: '5000', batchMaxEntries: 7 },
      { AGOV_DATA_DIR: '/env', AGOV_LEDGER_KEY: 'k-env' },
    );
    expect([s.dataDir, s.dbPath, s.key, s.checkpointIntervalMs, s.batchMaxEntries]).toEqual([
      '/a',
      '/b/l.db',
      'k-arg',
      5000,
      7,
    ]);
    expect(resolveLedgerWriterSettings({}, { AGOV_LEDGER_KEY: 'k-env' }).key).toBe('k-env');
  });

  it('refuses malformed numbers and unknown enum values with a ConfigError', () => {
    expect(() => resolveLedgerWriterSettings({ batchMaxEntries: 0 }, {})).toThrow(ConfigError);
    expect(() => resolveLedgerWriterSettings({ ackWaitMs: 'soon' }, {})).toThrow(/ackWaitMs/);
    expect(() => resolveLedgerWriterSettings({ secrets: 'ignore' }, {})).toThrow(/option secrets/);
  });
});

describe('the writer signing key', () => {
  it('is generated on first start with mode 0600, its public key beside it, and reused afterwards', () => {
    const dir = temp();
    const settings = resolveLedgerWriterSettings({ dataDir: dir }, {});
    const first = loadOrCreateSigner(settings);
    expect(statSync(settings.keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(settings.publicKeyFile, 'utf8')).toBe(publicKeyPem(first.publicKey));
    const again = loadOrCreateSigner(settings);
    expect(again.keyId).toBe(first.keyId);
  });

  it('comes from configuration (seed hex or PEM) without touching the data dir', () => {
    const dir = temp();
    const pair = generateKeyPair();
    const fromSeed = loadOrCreateSigner(resolveLedgerWriterSettings({ dataDir: dir, key: pair.seedHex }, {}));
    const fromPem = loadOrCreateSigner(
      resolveLedgerWriterSettings({ dataDir: dir }, { AGOV_LEDGER_KEY: pair.privateKeyPem }),
    );
    expect(fromSeed.keyId).toBe(fromPem.keyId);
    expect(publicKeyPem(fromSeed.publicKey)).toBe(pair.publicKeyPem);
    expect(() => statSync(join(dir, 'ledger-key.pem'))).toThrow();
    expect(() =>
      loadOrCreateSigner(resolveLedgerWriterSettings({ dataDir: dir, key: 'not a key' }, {})),
    ).toThrow(ConfigError);
  });
});
