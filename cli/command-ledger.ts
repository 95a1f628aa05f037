/**
 * `agov ledger <verify|prove|consistency|tail|query>`: reads the SQLite ledger file directly, read-only
 * (`--db PATH`, default `<AGOV_DATA_DIR>/ledger.sqlite`), checked with the pinned public key (`--key PATH`,
 * or `--fingerprint` matched against `ledger-key.pub.pem` beside the ledger; see actors/ledger/trust.ts).
 * `tail --follow` follows the writer over the bus when NATS_URL is set (else it polls the file).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DEFAULT_DATA_DIR, readEnvironment } from '../infra/environment.ts';
import type { KeyObject } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  LedgerStore,
  checkConsistencyProof,
  checkInclusionProof,
  loadPrivateKey,
  loadPublicKey,
  proveConsistency,
  proveInclusion,
  keyFingerprint,
  resolveTrustedKey,
  type TrustedKey,
  type VerifiedHead,
  verifyLedger,
} from '../actors/ledger/reader.ts';
import {
  checkAgainstWitnesses,
  type WitnessCheck,
  type WitnessEvidence,
  WitnessStore,
} from '../actors/witness/index.ts';
import { DEFAULT_LEDGER_PUBLIC_KEY_FILE, defaultLedgerPath } from '../actors/ledger/reader.ts';
import { ConfigError } from '../protocols/vocabulary/index.ts';
import { printEntry, stopSignal } from './ledger-print.ts';

export const LEDGER_USAGE = `agov ledger <command> [--db PATH] [--key PATH] [--fingerprint sha256:HEX]

  verify [--witness STORE]...  check the whole file; exit 1 naming the first bad entry (seq, problem, detail);
                               with --witness, also against what each witness store cosigned (truncation,
                               dropped checkpoints, re-signed rewrites, forks)
         [--state FILE [--full]]  incremental: go on from the head FILE holds (only newer entries are read),
                               then store the new head there; --full re-reads everything first. Keep FILE
                               beside the pinned key, not in the data directory
  prove SEQ                    inclusion proof of entry SEQ against the latest checkpoint covering it
  consistency M N              consistency proof between the checkpoints of sizes M and N
  tail [-n N] [--follow]       the last N entries (default 10); --follow via the bus when NATS_URL is set
  query [--run ID] [--agent ID] [--type T] [--since WHEN] [--until WHEN] [--limit N] [--json]
                               WHEN: epoch ms, ISO date, or a duration ago (90s, 15m, 2h, 7d)
`;

export const ledgerCliOptions = {
  db: { type: 'string' },
  /** The pinned public key (SPKI PEM file); `--public-key` is its older name. */
  key: { type: 'string' },
  'public-key': { type: 'string' },
  fingerprint: { type: 'string' },
  witness: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  state: { type: 'string' },
  full: { type: 'boolean' },
} as const;

/** The ledger file the CLI reads. */
export function ledgerPath(db: string | undefined): string {
  return db ?? defaultLedgerPath(readEnvironment().dataDir ?? DEFAULT_DATA_DIR);
}

/**
 * The key the CLI verifies with, and whether it is pinned: `--key PATH` (or `--public-key`), else
 * `--fingerprint` / AGOV_LEDGER_KEY_FINGERPRINT checked against `ledger-key.pub.pem` beside the ledger;
 * a key beside the file that is not the pinned one is refused (LedgerTamperedError). Unpinned, the key
 * beside the file (or AGOV_LEDGER_KEY's public half) is used with a warning.
 */
export function cliTrustedKey(
  values: { key?: string; 'public-key'?: string; fingerprint?: string },
  dbPath: string,
): TrustedKey {
  const explicit = values.key ?? values['public-key'];
  const beside = join(dirname(dbPath), DEFAULT_LEDGER_PUBLIC_KEY_FILE);
  const envKey = readEnvironment().ledgerKey;
  const besideKey = existsSync(beside)
    ? loadPublicKey(readFileSync(beside, 'utf8'))
    : envKey
      ? loadPublicKey(loadPrivateKey(envKey))
      : undefined;
  return resolveTrustedKey({
    pinnedKey: explicit ? loadPublicKey(readFileSync(explicit, 'utf8')) : undefined,
    pinnedFingerprint: values.fingerprint ?? readEnvironment().ledgerKeyFingerprint,
    besideKey,
    besideSource: existsSync(beside) ? `at ${beside}` : 'in AGOV_LEDGER_KEY',
  });
}

/** {@link cliTrustedKey}, printing what it trusted to stderr. */
export function cliPublicKey(
  values: { key?: string; 'public-key'?: string; fingerprint?: string },
  dbPath: string,
): KeyObject {
  const trusted = cliTrustedKey(values, dbPath);
  for (const w of trusted.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stderr.write(
    `ledger key ${trusted.fingerprint}${trusted.pinned ? ' (pinned)' : ' (NOT pinned)'}\n`,
  );
  return trusted.key;
}

/** Reads witness stores for `verify --witness`. */
function witnessEvidence(paths: readonly string[]): WitnessEvidence[] {
  return paths.map((path) => {
    const store = WitnessStore.openForReading(path);
    try {
      const pem = store.publicKeyPem;
      if (!pem) throw new ConfigError(`witness store ${path} records no public key`);
      const publicKey = loadPublicKey(pem);
      process.stderr.write(`witness ${store.witness} key ${keyFingerprint(publicKey)} (from ${path})\n`);
      return { witness: store.witness, publicKey, checkpoints: store.all() };
    } finally {
      store.close();
    }
  });
}

function openReadonly(dbPath: string): LedgerStore {
  if (!existsSync(dbPath))
    throw new ConfigError(`no ledger at ${dbPath} (pass --db PATH or set AGOV_DATA_DIR)`);
  return LedgerStore.open({ path: dbPath, readonly: true });
}

/** Parses --since/--until: epoch ms, an ISO date, or a duration ago (`15m`). */
export function parseWhen(value: string, now = Date.now()): number {
  if (/^\d+$/.test(value)) return Number(value);
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value);
  if (rel) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
      rel[2] as 'ms' | 's' | 'm' | 'h' | 'd'
    ];
    return Math.round(now - Number(rel[1]) * unit);
  }
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new ConfigError(
      `cannot read time ${JSON.stringify(value)}: use epoch ms, an ISO date or 15m/2h/7d`,
    );
  return t;
}

export async function commandLedger(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'verify':
      return ledgerVerify(rest);
    case 'prove':
      return ledgerProve(rest);
    case 'consistency':
      return ledgerConsistency(rest);
    case 'tail':
      return ledgerTail(rest);
    case 'query':
      return ledgerQuery(rest);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(LEDGER_USAGE);
      return sub === undefined ? 2 : 0;
    default:
      process.stderr.write(`agov ledger: unknown command ${JSON.stringify(sub)}\n\n${LEDGER_USAGE}`);
      return 2;
  }
}

async function ledgerVerify(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: ledgerCliOptions });
  const dbPath = ledgerPath(values.db);
  if (!existsSync(dbPath))
    throw new ConfigError(`no ledger at ${dbPath} (pass --db PATH or set AGOV_DATA_DIR)`);
  const key = cliPublicKey(values, dbPath);
  const from = values.state && !values.full ? readVerifiedHead(values.state, dbPath) : undefined;
  const v = verifyLedger(dbPath, key, { from });
  if (v.ok && values.state && v.head) writeVerifiedHead(values.state, v.head);
  const witnessed = values.witness?.length ? witnessCheck(dbPath, key, values.witness) : undefined;
  if (values.json) process.stdout.write(`${JSON.stringify(witnessed ? { ...v, witnessed } : v)}\n`);
  for (const w of v.warnings) process.stderr.write(`warning: ${w}\n`);
  if (!v.ok) {
    const f = v.firstBad;
    process.stderr.write(
      f
        ? `ledger ${dbPath} is NOT intact: first bad entry seq ${f.seq}${f.eventId ? ` (event ${f.eventId})` : ''}: ${f.problem}: ${f.detail}\n`
        : `ledger ${dbPath} is NOT intact\n`,
    );
    return 1;
  }
  if (witnessed && !witnessed.ok) {
    for (const f of witnessed.findings)
      process.stderr.write(`ledger ${dbPath} is NOT what its witnesses saw: ${f.message}\n`);
    return 1;
  }
  if (!values.json) {
    process.stdout.write(
      `ledger ${dbPath} ok${v.fromSize !== undefined ? ` (incremental from size ${v.fromSize}: ${v.rowsRead} rows read)` : ''}: ${v.size} entries, ${v.signedSize} signed by ${v.checkedCheckpoints} checkpoint(s), ${v.unsignedEntries} not yet signed; root ${v.root}${witnessed ? `; witnessed up to ${witnessed.witnessedSize}` : ''}\n`,
    );
  }
  return 0;
}

/** The head `--state FILE` holds, or undefined when there is none yet (the first run is full). */
function readVerifiedHead(file: string, dbPath: string): VerifiedHead | undefined {
  if (resolve(dirname(file)) === resolve(dirname(dbPath))) {
    process.stderr.write(
      `warning: ${file} sits beside the ledger: whoever can rewrite the ledger can rewrite the head it trusts\n`,
    );
  }
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as VerifiedHead;
  } catch (err) {
    throw new ConfigError(`cannot read the verified head in ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function writeVerifiedHead(file: string, head: VerifiedHead): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(head, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

function witnessCheck(dbPath: string, key: KeyObject, stores: readonly string[]): WitnessCheck {
  const evidence = witnessEvidence(stores);
  const store = openReadonly(dbPath);
  try {
    return checkAgainstWitnesses(store, key, evidence);
  } finally {
    store.close();
  }
}

function seqArg(value: string | undefined, name: string): number {
  if (value === undefined || !/^\d+$/.test(value))
    throw new ConfigError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

async function ledgerProve(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: ledgerCliOptions,
    allowPositionals: true,
  });
  const seq = seqArg(positionals[0], 'SEQ');
  const dbPath = ledgerPath(values.db);
  const key = cliPublicKey(values, dbPath);
  const store = openReadonly(dbPath);
  try {
    const proof = proveInclusion(store, seq);
    const body = store.entry(seq)!.body;
    process.stdout.write(`${JSON.stringify({ ...proof, body: body.toString('utf8') }, null, 2)}\n`);
    const verdict = checkInclusionProof(proof, key, body);
    process.stderr.write(
      verdict.ok
        ? `inclusion of seq ${seq} in the signed tree of size ${proof.treeSize}: verified\n`
        : `proof does NOT verify: ${verdict.reason}\n`,
    );
    return verdict.ok ? 0 : 1;
  } finally {
    store.close();
  }
}

async function ledgerConsistency(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: ledgerCliOptions,
    allowPositionals: true,
  });
  const m = seqArg(positionals[0], 'M');
  const n = seqArg(positionals[1], 'N');
  const dbPath = ledgerPath(values.db);
  const key = cliPublicKey(values, dbPath);
  const store = openReadonly(dbPath);
  try {
    const proof = proveConsistency(store, m, n);
    process.stdout.write(`${JSON.stringify(proof, null, 2)}\n`);
    const verdict = checkConsistencyProof(proof, key);
    process.stderr.write(
      verdict.ok
        ? `the tree signed at size ${n} extends the one signed at size ${m}: verified\n`
        : `proof does NOT verify: ${verdict.reason}\n`,
    );
    return verdict.ok ? 0 : 1;
  } finally {
    store.close();
  }
}

async function ledgerQuery(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...ledgerCliOptions,
      run: { type: 'string' },
      agent: { type: 'string' },
      type: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      'from-seq': { type: 'string' },
      'to-seq': { type: 'string' },
      limit: { type: 'string' },
    },
  });
  const store = openReadonly(ledgerPath(values.db));
  try {
    const entries = store.query({
      run: values.run,
      agent: values.agent,
      type: values.type,
      fromTs: values.since !== undefined ? parseWhen(values.since) : undefined,
      toTs: values.until !== undefined ? parseWhen(values.until) : undefined,
      fromSeq: values['from-seq'] !== undefined ? seqArg(values['from-seq'], '--from-seq') : undefined,
      toSeq: values['to-seq'] !== undefined ? seqArg(values['to-seq'], '--to-seq') : undefined,
      limit: values.limit !== undefined ? seqArg(values.limit, '--limit') : Number.MAX_SAFE_INTEGER,
    });
    for (const e of entries) printEntry(e, values.json ?? false);
    if (!values.json) process.stderr.write(`${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}\n`);
    return 0;
  } finally {
    store.close();
  }
}

async function ledgerTail(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...ledgerCliOptions,
      n: { type: 'string', short: 'n' },
      follow: { type: 'boolean', short: 'f' },
      nats: { type: 'string' },
    },
  });
  const n = values.n !== undefined ? seqArg(values.n, '-n') : 10;
  const json = values.json ?? false;
  const natsUrl = values.nats ?? readEnvironment().natsUrl;
  // The bus is loaded only to follow over it: the file-reading commands start without NATS.
  if (values.follow && natsUrl) return (await import('./ledger-follow.ts')).followOverBus(natsUrl, n, json);
  const dbPath = ledgerPath(values.db);
  let store = openReadonly(dbPath);
  let next = 0;
  try {
    for (const e of store.tail(n)) {
      printEntry(e, json);
      next = e.seq + 1;
    }
    next = Math.max(next, store.size);
  } finally {
    store.close();
  }
  if (!values.follow) return 0;
  // No bus: poll the file.
  const stop = stopSignal();
  while (!stop.stopped) {
    await Promise.race([new Promise((r) => setTimeout(r, 1000)), stop.promise]);
    store = openReadonly(dbPath);
    try {
      for (const e of store.query({ fromSeq: next, limit: 1000 })) {
        printEntry(e, json);
        next = e.seq + 1;
      }
    } finally {
      store.close();
    }
  }
  return 0;
}
