/**
 * The ledger part of `npm run bench -- scale`: how opening and verifying a ledger grow with its size.
 * For each size N (default 10,000 and 100,000 entries, `--verify-entries 10000,100000`) a ledger of N
 * entries (checkpoint every 1,000) is built in a temporary folder, then, median of 3 rounds each:
 * - open: `LedgerStore.open` (O(log n): no row count);
 * - full verify of the N entries;
 * - incremental verify of 1,000 entries appended after the head the full verify returned.
 * Growth ratios: full verify at 10× the entries ÷ (10 × at 1×) — 1.0 is linear; incremental and open at
 * 10× ÷ at 1× — 1.0 means they do not grow with the ledger at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AuditEvent,
  createSigner,
  generateKeyPair,
  LedgerStore,
  verifyLedger,
} from '../actors/ledger/index.ts';
import { median, round } from './stats.ts';

export const DEFAULT_VERIFY_SIZES = [10_000, 100_000];
const INCREMENT = 1_000;
const ROUNDS = 3;

export interface LedgerScaleResult {
  entries: number;
  openMs: number;
  fullVerifyMs: number;
  fullVerifyUsPerEntry: number;
  incrementalVerifyMs: number;
  incrementalRowsRead: number;
}

const event = (i: number): AuditEvent => ({
  id: `bench-${i}`,
  ts: 1_700_000_000_000 + i,
  type: 'agent.task.result.v1',
  actor: 'bench-agent',
  run: `r-${i >> 4}`,
  agent: `agent-${i % 20}`,
  data: { stage: 's', ok: i % 7 !== 0, attempt: 1 },
});

function timed<T>(fn: () => T): { ms: number; value: T } {
  const t = performance.now();
  const value = fn();
  return { ms: performance.now() - t, value };
}

function fill(path: string, signer: ReturnType<typeof createSigner>, from: number, count: number): void {
  const store = LedgerStore.open({ path, signer, checkpointEveryEntries: 1_000, durability: 'deferred' });
  for (let i = from; i < from + count; i += 1_000)
    store.appendBatch(Array.from({ length: Math.min(1_000, from + count - i) }, (_, k) => event(i + k)));
  store.checkpoint();
  store.close();
}

async function measure(n: number): Promise<LedgerScaleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-scale-ledger-'));
  try {
    const keys = generateKeyPair();
    const signer = createSigner(keys.seedHex, 'bench.local/ledger');
    const path = join(dir, 'ledger.sqlite');
    fill(path, signer, 0, n);
    const opens: number[] = [];
    const fulls: number[] = [];
    let head: ReturnType<typeof verifyLedger>['head'];
    for (let r = 0; r < ROUNDS; r++) {
      opens.push(timed(() => LedgerStore.open({ path, readonly: true }).close()).ms);
      const full = timed(() => verifyLedger(path, keys.publicKeyPem));
      if (!full.value.ok) throw new Error(`bench ledger does not verify: ${full.value.firstBad?.detail}`);
      fulls.push(full.ms);
      head = full.value.head;
    }
    fill(path, signer, n, INCREMENT);
    const incs: number[] = [];
    let rowsRead = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const inc = timed(() => verifyLedger(path, keys.publicKeyPem, { from: head }));
      if (!inc.value.ok) throw new Error(`incremental verify failed: ${inc.value.firstBad?.detail}`);
      incs.push(inc.ms);
      rowsRead = inc.value.rowsRead;
    }
    const fullMs = median(fulls);
    return {
      entries: n,
      openMs: round(median(opens), 2),
      fullVerifyMs: round(fullMs, 1),
      fullVerifyUsPerEntry: round((fullMs * 1000) / n, 2),
      incrementalVerifyMs: round(median(incs), 1),
      incrementalRowsRead: rowsRead,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the ledger part; returns its results and growth ratios (each size against the smallest). */
export async function benchLedgerScale(
  sizes: readonly number[],
): Promise<{ results: LedgerScaleResult[]; ratios: Record<string, number> }> {
  const results: LedgerScaleResult[] = [];
  for (const n of sizes) {
    const r = await measure(n);
    results.push(r);
    console.log(
      `ledger ${n} entries: open ${r.openMs} ms, full verify ${r.fullVerifyMs} ms (${r.fullVerifyUsPerEntry} µs/entry), incremental verify of ${INCREMENT} new ${r.incrementalVerifyMs} ms (${r.incrementalRowsRead} rows read)`,
    );
  }
  const base = results[0]!;
  const ratios: Record<string, number> = {};
  for (const r of results.slice(1)) {
    const k = r.entries / base.entries;
    const tag = `${r.entries}vs${base.entries}`;
    ratios[`ledgerFullVerifyGrowth${tag}`] = round(r.fullVerifyMs / (k * base.fullVerifyMs), 2);
    ratios[`ledgerIncrementalVerify${tag}`] = round(r.incrementalVerifyMs / base.incrementalVerifyMs, 2);
    ratios[`ledgerOpen${tag}`] = round(r.openMs / base.openMs, 2);
  }
  return { results, ratios };
}
