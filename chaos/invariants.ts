/**
 * What must hold after any scenario:
 * 1. every run reached a terminal state;
 * 2. the ledger verifies (chain, signatures), has no gaps and no duplicate event ids, and holds every
 *    event the actors published to the audit stream;
 * 3. every run of the failing pipeline exhausted its budget, and every run whose budget was exhausted
 *    ended with its token revoked, and none of them succeeded
 *    (containment: a breached run ends `contained`, or `failed` when its last failure came first);
 * 4. every permanent child is running again;
 * 5. every event implied by persisted state is in the ledger exactly once: each audit event id a
 *    producer's stored state lists (written in the same write as the change that implies the event:
 *    the transactional outboxes of the orchestrator, token authority, agents and checkpoint actor;
 *    chaos/implied-events.ts) is a ledger entry, once, even when the producer was SIGKILLed between
 *    that write and the audit stream's ack;
 * 6. the scenario did what it claims: at least one fault was delivered, and no fault slot went without
 *    a target because the supervision tree could not be read whole.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LedgerStore } from '../actors/ledger/index.ts';
import { verifyLedger } from '../actors/ledger/index.ts';
import { AUDIT_STREAM } from '../bus/index.ts';
import { serviceSubject, ACTOR_KIND, isTerminalRunStatus } from '../protocols/index.ts';
import { byProducer, impliedEvents } from './implied-events.ts';
import type { SystemUnderTest } from './system-under-test.ts';

export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
  /** How many cases the invariant actually checked (e.g. breached budgets): zero means it proved nothing. */
  checked?: number;
  /** Implied events: how many each producer's stored state implies (premises of per-producer scenarios). */
  byProducer?: Record<string, number>;
}

async function until<T>(deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined || Date.now() > deadlineMs) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function runStatuses(sut: SystemUnderTest, runIds: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const runId of runIds) {
    try {
      const r = await sut.client.ask(serviceSubject(ACTOR_KIND.orchestrator), {
        type: 'run.get.v1',
        body: { runId },
      });
      out.set(runId, r.type === 'run.state.v1' ? r.body.status : 'unknown');
    } catch {
      out.set(runId, 'unknown');
    }
  }
  return out;
}

/**
 * Run statuses for the report, asked again while some come back `unknown` (the orchestrator that
 * answers may be restarting right after the last fault) until the deadline.
 */
export async function settledRunStatuses(
  sut: SystemUnderTest,
  runIds: string[],
  deadlineMs: number,
): Promise<Map<string, string>> {
  const known = await until(deadlineMs, async () => {
    const s = await runStatuses(sut, runIds);
    return [...s.values()].includes('unknown') ? undefined : s;
  });
  return known ?? runStatuses(sut, runIds);
}

export async function checkRunsTerminal(
  sut: SystemUnderTest,
  runIds: string[],
  deadlineMs: number,
): Promise<InvariantResult> {
  const ok = await until(deadlineMs, async () => {
    const s = await runStatuses(sut, runIds);
    return [...s.values()].every((v) => isTerminalRunStatus(v)) ? s : undefined;
  });
  const s = ok ?? (await runStatuses(sut, runIds));
  const stuck = [...s.entries()].filter(([, v]) => !isTerminalRunStatus(v));
  return {
    name: 'every run reached a terminal state',
    ok: stuck.length === 0,
    detail:
      stuck.length === 0
        ? `${runIds.length} runs terminal`
        : `not terminal: ${stuck.map(([id, v]) => `${id}=${v}`).join(', ')}`,
  };
}

/** Envelope ids of every audit event in the stream right now. */
async function streamIds(sut: SystemUnderTest): Promise<Set<string>> {
  const jsm = await sut.client.jetstreamManager();
  const info = await jsm.streams.info(AUDIT_STREAM);
  const ids = new Set<string>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(AUDIT_STREAM, { seq }).catch(() => null);
    if (!m) continue;
    const d = sut.client.decode(m.data);
    if (d.ok) ids.add(d.env.id);
  }
  return ids;
}

export async function checkLedger(sut: SystemUnderTest, deadlineMs: number): Promise<InvariantResult> {
  const name = 'the ledger verifies, has no gaps or duplicates, and holds every published audit event';
  const dataDir = sut.dataDir;
  const dbPath = join(dataDir, 'ledger.sqlite');
  const keyPath = join(dataDir, 'ledger-key.pub.pem');
  // Actors keep auditing while we check, so: everything published up to now must reach the ledger,
  // and everything in the ledger must have been published (a second look at the stream covers what
  // arrived in between).
  const published = await streamIds(sut);
  const caughtUp = await until(deadlineMs, async () => {
    if (!existsSync(dbPath)) return undefined;
    const store = LedgerStore.open({ path: dbPath, readonly: true });
    try {
      return [...published].every((id) => store.entryById(id)) ? true : undefined;
    } finally {
      store.close();
    }
  });
  if (!caughtUp)
    return {
      name,
      ok: false,
      detail: `ledger never caught up with the ${published.size} events in the audit stream`,
    };
  const v = verifyLedger(dbPath, readFileSync(keyPath, 'utf8'));
  if (!v.ok)
    return {
      name,
      ok: false,
      detail: `verify failed at seq ${v.firstBad?.seq}: ${v.firstBad?.problem} ${v.firstBad?.detail}`,
    };
  const publishedNow = await streamIds(sut);
  const store = LedgerStore.open({ path: dbPath, readonly: true });
  let entries: string[];
  try {
    entries = store.range(0, v.size).map((e) => e.id);
  } finally {
    store.close();
  }
  const invented = entries.filter((id) => !publishedNow.has(id));
  const duplicates = entries.length - new Set(entries).size;
  if (invented.length > 0 || duplicates > 0) {
    return {
      name,
      ok: false,
      detail: `${invented.length} ledger entries never published (e.g. ${invented[0]}), ${duplicates} duplicate ids`,
    };
  }
  return {
    name,
    ok: true,
    detail: `${v.size} entries, every published event once, ${v.checkedCheckpoints} checkpoints verified`,
  };
}

export async function checkBudgetsRevoked(
  sut: SystemUnderTest,
  runIds: string[],
  mustBreach: string[] = [],
  deadlineMs = Date.now() + 30_000,
): Promise<InvariantResult> {
  const name = 'every exhausted budget ended with the run token revoked, and no such run succeeded';
  let breached = 0;
  const bad: string[] = [];
  const isBreached = async (runId: string) => {
    const b = await sut.client
      .ask(serviceSubject(ACTOR_KIND.budgetMonitor), { type: 'budget.status.v1', body: { runId } })
      .catch(() => undefined);
    return b?.type === 'budget.state.v1' && b.body.breached ? true : undefined;
  };
  for (const runId of runIds) {
    // A budget monitor restarted late catches up from its durable consumer: a run that must breach is
    // given until the deadline to show it (asked once, it could still be counting its backlog).
    const must = mustBreach.includes(runId);
    const b = must ? await until(deadlineMs, () => isBreached(runId)) : await isBreached(runId);
    if (!b) {
      if (must) bad.push(`${runId} (failing pipeline) never exhausted its budget`);
      continue;
    }
    breached++;
    // A token authority killed mid-revoke catches up from its durable consumer (the run's end revokes
    // too): give it until the deadline.
    const tokenState = async () => {
      const t = await sut.client
        .ask(serviceSubject(ACTOR_KIND.tokenAuthority), { type: 'token.status.v1', body: { runId } })
        .catch(() => undefined);
      return t?.type === 'token.state.v1' ? t.body.state : 'unknown';
    };
    const state =
      (await until(deadlineMs, async () => ((await tokenState()) === 'revoked' ? 'revoked' : undefined))) ??
      (await tokenState());
    if (state !== 'revoked') bad.push(`${runId}=${state}`);
    const run = (await runStatuses(sut, [runId])).get(runId);
    if (run === 'succeeded') bad.push(`${runId} succeeded after its breach`);
  }
  return {
    name,
    ok: bad.length === 0,
    checked: breached,
    detail:
      bad.length === 0
        ? `${breached} exhausted budgets, all tokens revoked`
        : `not contained: ${bad.join(', ')}`,
  };
}

export async function checkChildrenRunning(
  sut: SystemUnderTest,
  deadlineMs: number,
): Promise<InvariantResult> {
  const name = 'every permanent child is running again';
  const notRunning = async () => {
    const out: string[] = [];
    const walk = (t: Awaited<ReturnType<SystemUnderTest['tree']>>) => {
      for (const c of t.children) {
        if (c.restart === 'permanent' && c.status !== 'running')
          out.push(`${t.supervisorId}/${c.id}=${c.status}`);
        if (c.tree) walk(c.tree);
        else if (c.type === 'supervisor' && c.status === 'running')
          out.push(`${t.supervisorId}/${c.id}=subtree-unreachable`);
      }
    };
    walk(await sut.tree());
    return out;
  };
  const ok = await until(deadlineMs, async () => ((await notRunning()).length === 0 ? true : undefined));
  const rest = ok ? [] : await notRunning().catch((e) => [String(e)]);
  return {
    name,
    ok: rest.length === 0,
    detail: rest.length === 0 ? 'all permanent children running' : rest.join(', '),
  };
}

/**
 * Invariant 5: every audit event implied by persisted state (implied-events.ts: run records, token
 * records, agent lifecycle records, restore records) is in the ledger, exactly once.
 */
export async function checkImpliedEvents(sut: SystemUnderTest, deadlineMs: number): Promise<InvariantResult> {
  const name = 'every event implied by persisted state is in the ledger exactly once';
  const implied = await impliedEvents(sut.client, sut.redis.url);
  const dbPath = join(sut.dataDir, 'ledger.sqlite');
  let missing: string[] = [];
  let counts = new Map<string, number>();
  await until(deadlineMs, async () => {
    if (!existsSync(dbPath)) return undefined;
    const store = LedgerStore.open({ path: dbPath, readonly: true });
    try {
      counts = new Map();
      const count = store.db.prepare('SELECT COUNT(*) AS n FROM entries WHERE event_id = ?');
      for (const id of implied.keys()) counts.set(id, (count.get(id) as { n: number }).n);
      missing = [...implied.keys()].filter((id) => (counts.get(id) ?? 0) === 0);
      return missing.length === 0 ? true : undefined;
    } finally {
      store.close();
    }
  });
  const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  const ok = implied.size > 0 && missing.length === 0 && twice.length === 0;
  const per = Object.entries(byProducer(implied))
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  const first = missing[0] === undefined ? undefined : implied.get(missing[0]);
  return {
    name,
    ok,
    checked: implied.size,
    byProducer: byProducer(implied),
    detail: ok
      ? `${implied.size} events implied by stored state (${per}), each once in the ledger`
      : implied.size === 0
        ? 'no stored state lists its audit events (nothing checked)'
        : `${missing.length} implied events missing (e.g. ${missing[0]} of ${first?.producer} ${first?.record}), ${twice.length} more than once`,
  };
}

/**
 * A scenario whose faults never landed proves nothing about recovery: at least one must have been
 * delivered, and no slot may have found the supervision tree unreadable (`unreadable` is the target
 * such a slot records). Slots whose target kind simply had no running process (a replacement still
 * starting) are counted, not failed.
 */
export function checkFaultsDelivered(
  injected: ReadonlyArray<{ target: string; delivered: boolean }>,
  unreadable: string,
): InvariantResult {
  const delivered = injected.filter((i) => i.delivered).length;
  const blind = injected.filter((i) => i.target === unreadable).length;
  const idle = injected.length - delivered - blind;
  return {
    name: 'faults were delivered',
    ok: delivered > 0 && blind === 0,
    detail: `${delivered} of ${injected.length} delivered${idle ? `, ${idle} found no target process running` : ''}${blind ? `, ${blind} could not read the supervision tree whole` : ''}`,
    checked: delivered,
  };
}
