/** What the ledger verification suites share: a signing key, the events they append and the attacker. */
import Database from 'better-sqlite3';
import {
  type AuditEvent,
  LEDGER_TRIGGERS,
  createSigner,
  generateKeyPair,
} from '../../actors/ledger/index.ts';

export const ORIGIN = 'example.test/ledger';
export const keys = generateKeyPair();
export const signer = createSigner(keys.privateKeyPem, ORIGIN);

/** The i-th event of a test ledger (one run, three agents). */
export const ev = (i: number, over: Partial<AuditEvent> = {}): AuditEvent => ({
  id: `ev-${i}`,
  ts: 1000 + i,
  type: 'agent.step',
  actor: 'worker',
  run: 'run-1',
  agent: `agent-${i % 3}`,
  data: { i },
  ...over,
});

/** The attacker: raw SQL on the file at `path`, append-only triggers dropped first. */
export function tamperFile(path: string, fn: (db: Database.Database) => void): void {
  const db = new Database(path);
  for (const t of LEDGER_TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${t}`);
  fn(db);
  db.close();
}
