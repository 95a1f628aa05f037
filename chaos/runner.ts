/**
 * Runs one chaos scenario: starts a whole system (every actor in its own process), drives pipeline
 * runs through it while injecting the scenario's faults on a seeded schedule, lets it settle, then
 * checks the invariants. The report says what was injected, what recovered and how fast, and the verdicts.
 */
import { randomUUID } from 'node:crypto';
import { allObs, auditSubject, serviceSubject, ACTOR_KIND } from '../protocols/index.ts';
import {
  DEFAULT_CHAOS_DURATION_MS,
  DEFAULT_CHAOS_FAULT_INTERVAL_MS,
  DEFAULT_CHAOS_HANG_MS,
  DEFAULT_CHAOS_RUNS,
  DEFAULT_CHAOS_SETTLE_MS,
} from './chaos-options.ts';
import {
  checkBudgetsRevoked,
  checkChildrenRunning,
  checkFaultsDelivered,
  checkImpliedEvents,
  checkLedger,
  checkRunsTerminal,
  type InvariantResult,
  settledRunStatuses,
} from './invariants.ts';
import { checkpointRestoreLoad } from './checkpoint-load.ts';
import { pick, prng } from './prng.ts';

/** Longer than the budget monitor's ack wait (30 s), after which a killed monitor's events come again. */
const BUDGET_CATCH_UP_MS = 45_000;
import { DEFAULT_BREACH_EVERY, type Scenario } from './scenarios.ts';
import { type LiveProcess, startSystemUnderTest, type SystemUnderTest } from './system-under-test.ts';

export interface ChaosOptions {
  seed?: number;
  durationMs?: number;
  faultIntervalMs?: number;
  runs?: number;
  settleMs?: number;
  log?: (line: string) => void;
}

export interface Injection {
  atMs: number;
  fault: string;
  target: string;
  /** False when there was nothing to hit (target `none`) or the signal failed (the process was gone). */
  delivered: boolean;
  pid?: number;
  recoveredMs?: number;
}

export interface ChaosReport {
  scenario: string;
  seed: number;
  injected: Injection[];
  runs: Record<string, number>;
  invariants: InvariantResult[];
  ok: boolean;
}

/** A steady pipeline: a small DAG of noops and short sleeps. */
const STEADY = `
name: chaos-steady
version: 1
stages:
  - { id: a, task: { kind: noop } }
  - { id: b, needs: [a], task: { kind: sleep, ms: 150 }, retries: { max: 5, backoffMs: 100 } }
  - { id: c, needs: [a], task: { kind: sleep, ms: 100 }, retries: { max: 5, backoffMs: 100 } }
  - { id: d, needs: [b, c], task: { kind: noop }, retries: { max: 5, backoffMs: 100 } }
errorBudget: { maxErrors: 50, windowMs: 600000 }
`;

/** A failing pipeline whose budget is exhausted: its token must end revoked. */
const FAILING = `
name: chaos-failing
version: 1
stages:
  - { id: a, task: { kind: noop } }
  - { id: boom, needs: [a], task: { kind: fail, message: chaos }, retries: { max: 3, backoffMs: 50 } }
errorBudget: { maxErrors: 1, windowMs: 600000 }
`;

async function submit(sut: SystemUnderTest, yaml: string, deadlineMs: number): Promise<string> {
  for (;;) {
    try {
      const r = await sut.client.ask(serviceSubject(ACTOR_KIND.orchestrator), {
        type: 'run.request.v1',
        body: { yaml, params: {}, requestedBy: 'chaos' },
      });
      if (r.type === 'run.accepted.v1') return r.body.runId;
      throw new Error(`unexpected ${r.type}`);
    } catch (err) {
      // The orchestrator may be the one we just killed: retry until it is back.
      if (Date.now() > deadlineMs) throw err;
      await new Promise((res) => setTimeout(res, 250));
    }
  }
}

export async function runScenario(sc: Scenario, options: ChaosOptions = {}): Promise<ChaosReport> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const rand = prng(seed);
  const log = options.log ?? (() => {});
  const duration = options.durationMs ?? DEFAULT_CHAOS_DURATION_MS;
  const interval = options.faultIntervalMs ?? DEFAULT_CHAOS_FAULT_INTERVAL_MS;
  const totalRuns = options.runs ?? DEFAULT_CHAOS_RUNS;
  const breachEvery = sc.breachEvery ?? DEFAULT_BREACH_EVERY;
  log(`scenario ${sc.name} (seed ${seed}): ${sc.description}`);
  const sut = await startSystemUnderTest();
  const started: Array<{ at: number; actorId: string }> = [];
  const feed = sut.client.subscribeRaw(allObs(), (m) => {
    const d = sut.client.decode(m.data);
    if (!d.ok || d.env.type !== 'supervisor.event.v1') return;
    const e = d.env.body;
    if (e.event === 'child-started' && e.actorId) started.push({ at: performance.now(), actorId: e.actorId });
    // Exits, hangs, failed starts and escalations, with their reasons: what a failed scenario is read from.
    else if (e.event !== 'child-restart-scheduled')
      log(
        `  ${new Date().toISOString().slice(11, 23)} ${e.supervisorId}: ${e.event} ${e.childId}${e.detectedBy ? ` (${e.detectedBy})` : ''}${e.reason ? ` ${JSON.stringify(e.reason)}` : ''}`,
      );
  });
  const injected: Injection[] = [];
  const runIds: string[] = [];
  /** Runs of the failing pipeline: each must exhaust its budget (maxErrors 1, four failing attempts). */
  const mustBreach: string[] = [];
  try {
    await checkChildrenRunning(sut, Date.now() + 60_000);
    const t0 = performance.now();
    const submitDeadline = Date.now() + duration + 60_000;
    const submissions: Promise<void>[] = [];
    const submitOne = (i: number) =>
      submit(sut, i % breachEvery === breachEvery - 1 ? FAILING : STEADY, submitDeadline).then((id) => {
        runIds.push(id);
        if (i % breachEvery === breachEvery - 1) mustBreach.push(id);
      });
    for (let i = 0; i < Math.ceil(totalRuns / 2); i++) submissions.push(submitOne(i));
    const load =
      sc.load === 'checkpoint-restores'
        ? // Through the faults, and on until a restore was answered after them (or the submit deadline).
          checkpointRestoreLoad(
            sut.client,
            (restores) => (performance.now() - t0 >= duration && restores > 0) || Date.now() > submitDeadline,
            log,
          )
        : Promise.resolve(0);
    let next = Math.ceil(totalRuns / 2);
    while (performance.now() - t0 < duration) {
      await new Promise((r) => setTimeout(r, interval * (0.5 + rand())));
      injected.push(await inject(sut, sc, rand, t0, log));
      if (next < totalRuns) submissions.push(submitOne(next++));
    }
    while (next < totalRuns) submissions.push(submitOne(next++));
    await Promise.all(submissions);
    await load;
    log(`submitted ${runIds.length} runs; settling`);
    const settleDeadline = Date.now() + (options.settleMs ?? DEFAULT_CHAOS_SETTLE_MS);
    const invariants: InvariantResult[] = [];
    invariants.push(await checkRunsTerminal(sut, runIds, settleDeadline));
    invariants.push(await checkChildrenRunning(sut, Date.now() + 30_000));
    // Events a SIGKILLed budget monitor had taken but not acked come again only after its consumer's
    // ack wait (DEFAULT_BUDGET_EVENT_ACK_WAIT_MS, 30 s): a failing run's breach may wait that long.
    invariants.push(await checkBudgetsRevoked(sut, runIds, mustBreach, Date.now() + BUDGET_CATCH_UP_MS));
    invariants.push(await checkLedger(sut, Date.now() + 60_000));
    invariants.push(await checkImpliedEvents(sut, Date.now() + 60_000));
    invariants.push(checkFaultsDelivered(injected, TREE_UNREADABLE));
    for (const inj of injected) {
      // A multi-kill (`a+b+c`) has recovered once the last of its victims is back.
      const backs = inj.target
        .split('+')
        .map((id) => started.find((s) => s.actorId === id && s.at - t0 > inj.atMs));
      if (backs.every((b) => b !== undefined))
        inj.recoveredMs = Math.round(Math.max(...backs.map((b) => b!.at)) - t0 - inj.atMs);
    }
    const statuses = await settledRunStatuses(sut, runIds, Date.now() + 30_000);
    const runs: Record<string, number> = {};
    for (const s of statuses.values()) runs[s] = (runs[s] ?? 0) + 1;
    return { scenario: sc.name, seed, injected, runs, invariants, ok: invariants.every((i) => i.ok) };
  } finally {
    feed.unsubscribe();
    await sut.stop();
  }
}

async function inject(
  sut: SystemUnderTest,
  sc: Scenario,
  rand: () => number,
  t0: number,
  log: (l: string) => void,
): Promise<Injection> {
  const atMs = Math.round(performance.now() - t0);
  switch (sc.fault) {
    case 'sigkill':
    case 'sigstop': {
      const all = await targets(sut, atMs, sc.fault, log);
      if (!Array.isArray(all)) return all;
      const procs = all.filter((p) => sc.targets.length === 0 || sc.targets.includes(p.actorKind));
      const victim = pick(rand, procs);
      if (!victim) return { atMs, fault: sc.fault, target: 'none', delivered: false };
      log(`+${atMs} ms ${sc.fault.toUpperCase()} ${victim.actorKind} ${victim.actorId} (pid ${victim.pid})`);
      let delivered = true;
      try {
        if (sc.fault === 'sigkill') process.kill(victim.pid, 'SIGKILL');
        else {
          process.kill(victim.pid, 'SIGSTOP');
          // Resume it later, unless its supervisor has replaced (killed) it by then.
          setTimeout(() => {
            try {
              process.kill(victim.pid, 'SIGCONT');
            } catch {
              // already gone: the supervisor declared it hung
            }
          }, DEFAULT_CHAOS_HANG_MS);
        }
      } catch {
        delivered = false; // exited on its own just now: this fault did not happen
      }
      return { atMs, fault: sc.fault, target: victim.actorId, pid: victim.pid, delivered };
    }
    case 'sigkill-many': {
      // One process of each of `kindsAtOnce` different kinds, all killed in the same instant.
      const all = await targets(sut, atMs, sc.fault, log);
      if (!Array.isArray(all)) return all;
      const procs = all.filter((p) => sc.targets.includes(p.actorKind));
      const kinds = [...new Set(procs.map((p) => p.actorKind))].sort();
      const victims: typeof procs = [];
      for (let k = 0; k < (sc.kindsAtOnce ?? 2) && kinds.length > 0; k++) {
        const kind = kinds.splice(Math.floor(rand() * kinds.length), 1)[0]!;
        const v = pick(
          rand,
          procs.filter((p) => p.actorKind === kind),
        );
        if (v) victims.push(v);
      }
      if (victims.length === 0) return { atMs, fault: sc.fault, target: 'none', delivered: false };
      log(
        `+${atMs} ms SIGKILL ${victims.map((v) => `${v.actorKind} ${v.actorId} (pid ${v.pid})`).join(', ')}`,
      );
      let delivered = false;
      for (const v of victims) {
        try {
          process.kill(v.pid, 'SIGKILL');
          delivered = true;
        } catch {
          // exited on its own just now
        }
      }
      return { atMs, fault: sc.fault, target: victims.map((v) => v.actorId).join('+'), delivered };
    }
    case 'restart-nats':
      log(`+${atMs} ms restart nats-server`);
      await sut.nats.kill();
      await sut.nats.restart();
      return { atMs, fault: sc.fault, target: 'nats-server', delivered: true };
    case 'restart-redis':
      log(`+${atMs} ms restart redis-server`);
      await sut.redis.kill();
      await sut.redis.restart();
      return { atMs, fault: sc.fault, target: 'redis-server', delivered: true };
    case 'audit-flood': {
      const n = 2_000;
      log(`+${atMs} ms flood the audit stream with ${n} events`);
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const env = sut.client.wrap({ type: 'demo.count.v1', body: { seq: i }, id: randomUUID() });
        pending.push(sut.client.publishDurable(auditSubject('chaos'), env).catch(() => undefined));
      }
      await Promise.all(pending);
      return { atMs, fault: sc.fault, target: 'ledger-writer', delivered: true };
    }
  }
}

/** Target string of a fault slot that could not read the whole supervision tree. */
export const TREE_UNREADABLE = 'tree-unreadable';

/**
 * The processes a fault may hit, from a complete read of the supervision tree; a tree that cannot be
 * read whole is an injection that did not happen, said so (and failed by checkFaultsDelivered).
 */
async function targets(
  sut: SystemUnderTest,
  atMs: number,
  fault: string,
  log: (l: string) => void,
): Promise<LiveProcess[] | Injection> {
  try {
    return await sut.processes();
  } catch (err) {
    log(`+${atMs} ms ${fault}: the supervision tree could not be read whole (${String(err)})`);
    return { atMs, fault, target: TREE_UNREADABLE, delivered: false };
  }
}

/** One line per fact, for people. */
export function formatReport(r: ChaosReport): string {
  const lines = [`scenario ${r.scenario} seed ${r.seed}: ${r.ok ? 'PASS' : 'FAIL'}`];
  for (const i of r.injected) {
    lines.push(
      `  injected +${i.atMs} ms ${i.fault} ${i.target}${i.delivered ? '' : ' (not delivered)'}${i.pid ? ` (pid ${i.pid})` : ''}${i.recoveredMs !== undefined ? ` → replacement up in ${i.recoveredMs} ms` : ''}`,
    );
  }
  lines.push(
    `  runs: ${Object.entries(r.runs)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}`,
  );
  for (const inv of r.invariants) lines.push(`  ${inv.ok ? 'ok  ' : 'FAIL'} ${inv.name}: ${inv.detail}`);
  return lines.join('\n');
}
