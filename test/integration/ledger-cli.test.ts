import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  LedgerStore,
  LEDGER_TRIGGERS,
  encodeEvent,
  hashLeaf,
} from '../../actors/ledger/index.ts';
import type { Bus } from '../../bus/bus.ts';
import { ensureStreams } from '../../bus/streams.ts';
import { obsSubject } from '../../protocols/subjects.ts';
import { agovEntry } from '../../supervisors/process-child.ts';
import { collect, credsFile, TestServers, testBus } from '../harness/index.ts';
import { auditEnvelope, publishAll, startWriter } from './ledger-helpers.ts';

const run = promisify(execFile);
const servers = new TestServers();
let dataDir: string;
let good: string;
let client: Bus;
let natsUrl: string;
/** The operator's client credential, for CLI processes that join the bus. */
let cliCreds: string;
const TOTAL = 30;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `agov …` as a process with no NATS_URL (offline) unless given. */
async function agov(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { NATS_URL: _drop, AGOV_LEDGER_KEY: _key, ...rest } = process.env;
  try {
    const { stdout, stderr } = await run(process.execPath, [agovEntry(), ...args], {
      env: { ...rest, ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  const nats = await servers.nats();
  natsUrl = nats.url;
  cliCreds = await credsFile(nats, { role: 'client', name: 'cli' }, servers.tempDir('agov-ledger-creds-'));
  client = await testBus(nats.url, 'ledger-cli-test');
  servers.onStop(() => client.close());
  await ensureStreams(client);
  const appended = collect(client, obsSubject('ledger', 'appended'));
  await client.flush();
  dataDir = servers.tempDir('agov-ledger-cli-');
  // No key configured: the writer generates ledger-key.pem (0600) and ledger-key.pub.pem in the data dir.
  const w = await startWriter(nats.url, 'lw-cli', dataDir, { key: '', checkpointEveryEntries: 10 });
  const checkpoints = collect(client, obsSubject('ledger', 'checkpoint'));
  const envs = Array.from({ length: TOTAL }, (_, i) => auditEnvelope(client, i < 20 ? 'run-a' : 'run-b', i));
  // In two parts, so that the ledger holds a checkpoint before the last one (for consistency proofs).
  await publishAll(client, envs.slice(0, 12));
  await checkpoints.next((e) => e.type === 'ledger.checkpoint.v1' && e.body.size >= 10);
  await publishAll(client, envs.slice(12));
  await appended.next((e) => e.type === 'ledger.appended.v1' && e.body.toSeq >= TOTAL);
  await w.stop(); // graceful: flushes and signs a final checkpoint
  good = join(dataDir, 'ledger.sqlite');
});
afterAll(() => servers.stopAll());

/** A copy of the good ledger with the attacker's raw SQL applied (append-only triggers dropped first). */
function tampered(name: string, fn: (db: Database.Database) => void): string {
  const path = join(dataDir, `${name}.sqlite`);
  copyFileSync(good, path);
  const db = new Database(path);
  for (const t of LEDGER_TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${t}`);
  fn(db);
  db.close();
  return path;
}

const shift = (db: Database.Database, from: number, delta: number) => {
  db.exec(`UPDATE entries SET seq = -seq - 1 WHERE seq >= ${from}`);
  db.exec(`UPDATE entries SET seq = -seq - 1 + ${delta} WHERE seq < 0`);
};

const pub = () => join(dataDir, 'ledger-key.pub.pem');

describe('agov ledger and agov evidence, run as processes on the SQLite file', () => {
  it("generated a 0600 signing key with its public key beside it on the writer's first start", () => {
    expect(statSync(join(dataDir, 'ledger-key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(pub(), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it('verify exits 0 on an untouched ledger', async () => {
    const r = await agov(['ledger', 'verify', '--db', good]);
    expect(r.stderr).toMatch(
      /^warning: not pinned: trusting the public key at .*ledger-key\.pub\.pem \(sha256:[0-9a-f]{64}\)/,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`ok: ${TOTAL} entries, ${TOTAL} signed`));
  });

  it('verify exits non-zero naming the entry when a row is modified', async () => {
    const path = tampered('modified', (db) => db.exec("UPDATE entries SET actor = 'mallory' WHERE seq = 7"));
    const r = await agov(['ledger', 'verify', '--db', path, '--public-key', pub()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/first bad entry seq 7 \(event [^)]+\): modified: .*column actor is "mallory"/);
    expect(r.stderr).toMatch(/warning: .*trigger/);
  });

  it('verify exits non-zero naming the entry when a row is deleted', async () => {
    const path = tampered('deleted', (db) => {
      db.exec('DELETE FROM entries WHERE seq = 5');
      shift(db, 6, -1);
    });
    const r = await agov(['ledger', 'verify', '--db', path, '--public-key', pub()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/first bad entry seq 5 .*: deleted: /);
  });

  it('verify exits non-zero naming the entry when a row is inserted', async () => {
    const path = tampered('inserted', (db) => {
      shift(db, 8, 1);
      const e: AuditEvent = {
        id: 'forged',
        ts: 1,
        type: 'demo.count.v1',
        actor: 'mallory',
        run: 'run-a',
        data: { seq: 999 },
      };
      const body = encodeEvent(e);
      db.prepare(
        'INSERT INTO entries(seq, event_id, ts, type, actor, run, agent, body, leaf_hash) VALUES (?,?,?,?,?,?,?,?,?)',
      ).run(8, e.id, e.ts, e.type, e.actor, e.run, null, body, hashLeaf(body));
    });
    const r = await agov(['ledger', 'verify', '--db', path, '--public-key', pub()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/first bad entry seq 8 \(event forged\): inserted: /);
  });

  it('verify exits non-zero naming the entry when rows are reordered', async () => {
    const path = tampered('reordered', (db) => {
      db.exec('UPDATE entries SET seq = -1 WHERE seq = 3');
      db.exec('UPDATE entries SET seq = 3 WHERE seq = 4');
      db.exec('UPDATE entries SET seq = 4 WHERE seq = -1');
    });
    const r = await agov(['ledger', 'verify', '--db', path, '--public-key', pub()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/first bad entry seq 3 .*: reordered: /);
  });

  it('prove and consistency print proofs that verify, and query filters by run', async () => {
    const p = await agov(['ledger', 'prove', '12', '--db', good]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ seq: 12, treeSize: TOTAL });
    expect(p.stderr).toMatch(/verified/);
    const store = LedgerStore.open({ path: good, readonly: true });
    const sizes = store.checkpoints().map((cp) => cp.size);
    store.close();
    const from = sizes[0]!;
    expect(from).toBeLessThan(TOTAL); // premise: more than one checkpoint to prove consistency between
    const c = await agov(['ledger', 'consistency', String(from), String(TOTAL), '--db', good]);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ fromSize: from, toSize: TOTAL });
    const unsigned = [...Array(TOTAL).keys()].find((n) => n > 0 && !sizes.includes(n))!;
    const missing = await agov(['ledger', 'consistency', String(unsigned), String(TOTAL), '--db', good]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(new RegExp(`GOV_ERR_NOT_FOUND.*no checkpoint of size ${unsigned}`));
    const q = await agov(['ledger', 'query', '--run', 'run-b', '--json', '--db', good]);
    const rows = q.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { run: string; seq: number });
    expect(rows).toHaveLength(TOTAL - 20);
    expect(rows.every((e) => e.run === 'run-b')).toBe(true);
    const t = await agov(['ledger', 'tail', '-n', '3', '--json', '--db', good]);
    expect(
      t.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    ).toEqual([TOTAL - 3, TOTAL - 2, TOTAL - 1]);
  });

  it('tail --follow over the bus prints entries the writer commits after it started', async () => {
    const w = await startWriter(natsUrl, 'lw-cli-follow', dataDir, { key: '' });
    const { spawn } = await import('node:child_process');
    const { NATS_URL: _n, ...rest } = process.env;
    const child = spawn(process.execPath, [agovEntry(), 'ledger', 'tail', '-n', '1', '--follow', '--json'], {
      env: { ...rest, NATS_URL: natsUrl, NATS_CREDS: cliCreds },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const lines = new Promise<string[]>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const ls = out.trim().split('\n');
        if (ls.length >= 3) resolve(ls);
      });
    });
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve())); // the initial tail
      await publishAll(client, [auditEnvelope(client, 'run-f', 1), auditEnvelope(client, 'run-f', 2)]);
      const seqs = (await lines).map((l) => (JSON.parse(l) as { seq: number }).seq);
      expect(seqs).toEqual([TOTAL - 1, TOTAL, TOTAL + 1]);
    } finally {
      child.kill('SIGTERM');
      await w.stop();
    }
  });

  it('evidence export then verify passes offline, and fails naming the file after one flipped byte', async () => {
    const out = join(dataDir, 'evidence-run-a');
    const signingKey = join(dataDir, 'ledger-key.pem');
    const unsignedOut = join(dataDir, 'evidence-unsigned');
    const unsigned = await agov(['evidence', 'export', '--run', 'run-a', unsignedOut, '--db', good]);
    expect(unsigned.code).toBe(0);
    expect(unsigned.stderr).toMatch(/the package is NOT signed/);
    const refused = await agov(['evidence', 'verify', unsignedOut, '--public-key', pub()]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('evidence INVALID: bad file signature.json: missing');
    const e = await agov([
      'evidence',
      'export',
      '--run',
      'run-a',
      out,
      '--db',
      good,
      '--signing-key',
      signingKey,
    ]);
    expect(e.stderr).toMatch(/ledger key sha256:[0-9a-f]{64} \(NOT pinned\)\n/);
    expect(e.stderr).toMatch(/signed by sha256:[0-9a-f]{64}/);
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/evidence of run run-a: 20 entries/);
    const ok = await agov(['evidence', 'verify', out, '--public-key', pub()]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/evidence ok: run run-a, 20 entries/);

    for (const file of [
      'entries.jsonl',
      'proofs.json',
      'checkpoint.txt',
      'public-key.pem',
      'manifest.json',
      'witnesses.json',
      'provenance.json',
      'signature.json',
    ]) {
      const dir = join(dataDir, `evidence-flip-${file}`);
      const exported = await agov([
        'evidence',
        'export',
        '--run',
        'run-a',
        dir,
        '--db',
        good,
        '--signing-key',
        signingKey,
      ]);
      expect(exported.code).toBe(0);
      const path = join(dir, file);
      const bytes = readFileSync(path);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
      writeFileSync(path, bytes);
      const bad = await agov(['evidence', 'verify', dir, '--public-key', pub()]);
      expect(bad.code, file).toBe(1);
      expect(bad.stderr).toContain(`evidence INVALID: bad file ${file}:`);
    }
    expect(existsSync(join(out, 'manifest.json'))).toBe(true);
    // 20 CLI processes in a row: at load 25 they took over the default 60 s.
  }, 180_000);
});
