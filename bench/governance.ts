/**
 * `npm run bench -- governance`: the governance actors against the same nats-server, redis-server
 * and Vault dev server, in one run:
 * - time from the error report that breaches a run's budget to its token's `revoked` event on the feed;
 * - time from that report to the run **contained**: the token revoked, every in-flight task of the run
 *   cancelled on its agent (the agents' `cancelled` results) and the run's `run-contained` event (after
 *   which no stage is dispatched: checked) — a real orchestrator and three plain agents, each run
 *   holding three long sleeps when its budget breaches. Target p99 < 25 ms;
 * - token issue / renew / revoke latency through our actors (ask → token authority / renewer → Vault)
 *   relative to the same VaultTokenClient call made directly.
 */
import { budgetMonitorKind } from '../actors/error-budget/index.ts';
import { runActor } from '../actors/runtime/index.ts';
import { tokenAuthorityKind } from '../actors/token/index.ts';
import { tokenRenewerKind } from '../actors/token/index.ts';
import { VaultTokenClient } from '../actors/token/index.ts';
import { Bus } from '../bus/index.ts';
import {
  allRunFeeds,
  errorsSubject,
  allAgentResults,
  serviceQueue,
  serviceSubject,
} from '../protocols/index.ts';
import { orchestratorKind } from '../actors/orchestrator/orchestrator.ts';
import { startPlainAgent } from '../examples/agents/node/plain-agent.ts';
import { mintLocal } from '../infra/nats-auth/index.ts';
import { serve } from '../test/harness/serve.ts';
import { startBenchServices } from './bench-system.ts';
import { report, round, summarize } from './stats.ts';

const CALLS = 300;
const BREACHES = 50;
const CONTAINMENTS = 50;
const CONTAINED_WINDOW_MS = 300_000;
/** In-flight tasks of each contained run (one per agent). */
const CONTAINED_TASKS = 3;
const CONTAINED_RUN = [
  'name: bench-contained',
  'version: 1',
  'stages:',
  ...Array.from(
    { length: CONTAINED_TASKS },
    (_, i) => `  - { id: s${i}, task: { kind: sleep, ms: 600000 } }`,
  ),
  // A window unlike the default one, so the bench can tell when the monitor has the run's budget.
  `errorBudget: { maxErrors: 1, windowMs: ${CONTAINED_WINDOW_MS} }`,
  '',
].join('\n');
const WARMUP = 20;

const issueBody = (runId: string) => ({
  runId,
  governance: {
    pipeline: 'bench',
    tiers: ['T0', 'T1'] as Array<'T0' | 'T1'>,
    token: { ttlMs: 7_200_000, renewEveryMs: 1_800_000, maxTtlMs: 86_400_000 },
  },
});

export async function benchGovernance(): Promise<void> {
  const services = await startBenchServices('gov', { need: { redis: true, vault: true } });
  const nats = { url: services.natsUrl };
  const redis = { url: services.redisUrl };
  const vault = { addr: services.vaultAddr!, rootToken: services.vaultToken! };
  const bus = { servers: nats.url };
  const args = { vaultAddr: vault.addr, vaultToken: vault.rootToken, redisUrl: redis.url };
  try {
    const client = await Bus.connect({ servers: nats.url, name: 'bench-client' });
    const authority = await runActor(tokenAuthorityKind, { id: 'bench-ta', bus, args });
    const renewer = await runActor(tokenRenewerKind, {
      id: 'bench-tr',
      bus,
      args: { ...args, pollMs: 3_600_000 },
    });
    const monitor = await runActor(budgetMonitorKind, { id: 'bench-bm', bus, args: { redisUrl: redis.url } });
    const stub = serve(
      client,
      serviceSubject('orchestrator'),
      () => ({ type: 'run.accepted.v1', body: { runId: Bus.newId(), pipeline: 'diagnostic', stages: [] } }),
      {
        queue: serviceQueue('orchestrator'),
      },
    );
    const direct = new VaultTokenClient({ addr: vault.addr, token: vault.rootToken });
    const lat = await measureTokenCalls(client, direct);
    const breach = await measureBreachToRevoked(client);

    // Breach → contained, against a real orchestrator (the stub above leaves the service queue).
    stub.unsubscribe();
    const contained = await benchContainment(client, nats.url);

    await monitor.stop();
    await renewer.stop();
    await authority.stop();
    await client.close();
    reportGovernance(lat, breach, contained);
  } finally {
    await services.stop();
  }
}

type TokenLatencies = Record<
  'directIssue' | 'actorIssue' | 'directRenew' | 'actorRenew' | 'directRevoke' | 'actorRevoke',
  number[]
>;

/** Issue, renew, revoke: each through our actors and as the same VaultTokenClient call made directly. */
async function measureTokenCalls(client: Bus, direct: VaultTokenClient): Promise<TokenLatencies> {
  const lat: TokenLatencies = {
    directIssue: [],
    actorIssue: [],
    directRenew: [],
    actorRenew: [],
    directRevoke: [],
    actorRevoke: [],
  };
  const time = async (out: number[] | undefined, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    out?.push(performance.now() - t0);
  };
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const keep = i >= WARMUP;
    const runId = `bench-${i}`;
    let accessor = '';
    await time(keep ? lat.directIssue : undefined, async () => {
      accessor = (
        await direct.createToken({
          policies: ['agov-run', 'agov-tier-t0', 'agov-tier-t1'],
          ttl: 7200,
          explicitMaxTtl: 86_400,
          meta: { run_id: runId, pipeline: 'bench' },
        })
      ).accessor;
    });
    await time(keep ? lat.actorIssue : undefined, () =>
      client.ask(serviceSubject('token-authority'), { type: 'token.issue.v1', body: issueBody(runId) }),
    );
    await time(keep ? lat.directRenew : undefined, () => direct.renewAccessor(accessor, 7200));
    await time(keep ? lat.actorRenew : undefined, () =>
      client.ask(serviceSubject('token-renewer'), { type: 'token.renew.v1', body: { runId } }),
    );
    await time(keep ? lat.directRevoke : undefined, () => direct.revokeAccessor(accessor));
    await time(keep ? lat.actorRevoke : undefined, () =>
      client.ask(serviceSubject('token-authority'), {
        type: 'token.revoke.v1',
        body: { runId, reason: 'bench' },
      }),
    );
  }
  return lat;
}

/** Breach → revoked: default budget (5 errors allowed); the 6th report breaches. */
async function measureBreachToRevoked(client: Bus): Promise<number[]> {
  const breach: number[] = [];
  const revokedAt = new Map<string, (t: number) => void>();
  client.subscribeRaw('gov.obs.token.>', (m) => {
    const d = client.decode(m.data);
    if (d.ok && d.env.type === 'token.event.v1' && d.env.body.action === 'revoked')
      revokedAt.get(d.env.body.runId)?.(performance.now());
  });
  for (let i = 0; i < WARMUP / 4 + BREACHES; i++) {
    const runId = `breach-${i}`;
    await client.ask(serviceSubject('token-authority'), { type: 'token.issue.v1', body: issueBody(runId) });
    const report = {
      type: 'budget.report.v1',
      body: { runId, source: 'bench', outcome: 'error', code: 'GOV_ERR_TIMEOUT' },
    } as const;
    for (let e = 0; e < 5; e++) client.tell(errorsSubject(runId), report);
    await client.ask(serviceSubject('budget-monitor'), { type: 'budget.status.v1', body: { runId } }); // the 5 are counted
    const revoked = new Promise<number>((resolve) => revokedAt.set(runId, resolve));
    const t0 = performance.now();
    client.tell(errorsSubject(runId), report);
    const t1 = await revoked;
    if (i >= WARMUP / 4) breach.push(t1 - t0);
  }
  return breach;
}

function reportGovernance(
  lat: TokenLatencies,
  breach: number[],
  contained: Awaited<ReturnType<typeof benchContainment>>,
): void {
  const s = (xs: number[]) => {
    const v = summarize(xs);
    return { p50: round(v.p50), p99: round(v.p99) };
  };
  const results = {
    breachToRevokedMs: s(breach),
    breachToContainedMs: s(contained.contained),
    breachToRevokedInContainedRunsMs: s(contained.revoked),
    containedRuns: contained.contained.length,
    dispatchesAfterContained: contained.dispatchesAfter,
    containedBreakdownMs: Object.fromEntries(Object.entries(contained.breakdown).map(([k, v]) => [k, s(v)])),
    containedRevokedBy: contained.revokedBy,
    issueMs: { direct: s(lat.directIssue), actor: s(lat.actorIssue) },
    renewMs: { direct: s(lat.directRenew), actor: s(lat.actorRenew) },
    revokeMs: { direct: s(lat.directRevoke), actor: s(lat.actorRevoke) },
    calls: CALLS,
    breaches: BREACHES,
  };
  const ratio = (a: number[], b: number[]) => round(summarize(a).p50 / summarize(b).p50, 2);
  report('governance', results, {
    issueP50: ratio(lat.actorIssue, lat.directIssue),
    renewP50: ratio(lat.actorRenew, lat.directRenew),
    revokeP50: ratio(lat.actorRevoke, lat.directRevoke),
  });
}

/** What the feed has said so far of one contained run. */
type Watch = {
  accepted: number;
  /** Child tokens issued for the run's attempts (`child-issued`): its tasks hold their credentials. */
  children: number;
  cancelled: number;
  breachAt?: number;
  lastCancelledAt?: number;
  revokedAt?: number;
  /** Who revoked first: the breach (`budget-exhausted`) or the run's end (`run-contained`). */
  revokedFor?: string;
  containedAt?: number;
  /** When the last of the three (revoked, contained, every task cancelled) was seen. */
  doneAt?: number;
  running?: () => void;
  done?: () => void;
};

// Running: every task accepted and holding its child token, so the run's start is over (the token
// authority is not still issuing for it) and what is timed is the containment alone.
const isRunning = (w: Watch) => w.accepted === CONTAINED_TASKS && w.children === CONTAINED_TASKS;

/** Follows runs, tokens, budgets and agents' results on the feed into one Watch per run. */
function watchContainment(client: Bus) {
  const watching = new Map<string, Watch>();
  let dispatchesAfter = 0;
  // Events may come before the run's acceptance reply: a run's watch is made by whichever is first.
  const watch = (runId: string): Watch => {
    let w = watching.get(runId);
    if (!w) {
      w = { accepted: 0, children: 0, cancelled: 0 };
      watching.set(runId, w);
    }
    return w;
  };
  const check = (w: Watch) => {
    if (w.revokedAt !== undefined && w.containedAt !== undefined && w.cancelled === CONTAINED_TASKS) {
      w.doneAt ??= performance.now();
      w.done?.();
    }
  };
  const subs = [
    client.subscribeRaw(allRunFeeds(), (m) => {
      const d = client.decode(m.data);
      if (!d.ok || d.env.type !== 'run.event.v1') return;
      const w = watch(d.env.body.runId);
      if (d.env.body.event === 'stage-accepted') w.accepted++;
      if (d.env.body.event === 'stage-dispatched' && w.containedAt !== undefined) dispatchesAfter++;
      if (d.env.body.event === 'run-contained') {
        w.containedAt = performance.now();
        check(w);
      }
      if (isRunning(w)) w.running?.();
    }),
    client.subscribeRaw('gov.obs.token.>', (m) => {
      const d = client.decode(m.data);
      if (!d.ok || d.env.type !== 'token.event.v1') return;
      const w = watch(d.env.body.runId);
      if (d.env.body.action === 'child-issued') {
        w.children++;
        if (isRunning(w)) w.running?.();
      }
      if (d.env.body.action !== 'revoked') return;
      w.revokedAt = performance.now();
      w.revokedFor = d.env.body.reason;
      check(w);
    }),
    client.subscribeRaw('gov.obs.budget.>', (m) => {
      const d = client.decode(m.data);
      if (!d.ok || d.env.type !== 'budget.event.v1' || d.env.body.event !== 'breach') return;
      watch(d.env.body.runId).breachAt = performance.now();
    }),
    client.subscribeRaw(allAgentResults('orchestrator'), (m) => {
      const d = client.decode(m.data);
      if (!d.ok || d.env.type !== 'agent.task.result.v1' || d.env.body.status !== 'cancelled') return;
      const w = watch(d.env.body.runId);
      w.cancelled++;
      w.lastCancelledAt = performance.now();
      check(w);
    }),
  ];
  return {
    watch,
    forget: (runId: string) => watching.delete(runId),
    dispatchesAfter: () => dispatchesAfter,
    unsubscribe: () => {
      for (const sub of subs) sub.unsubscribe();
    },
  };
}

/**
 * Runs CONTAINMENTS runs of CONTAINED_TASKS long sleeps each on as many plain agents; once all are
 * running, breaches the run's budget (maxErrors 1: one error counted first, the second breaches) and
 * times until the token is revoked, every task's `cancelled` result is out and `run-contained` is on
 * the feed. Counts any dispatch of the run after that.
 */
export async function benchContainment(
  client: Bus,
  natsUrl: string,
): Promise<{
  contained: number[];
  revoked: number[];
  dispatchesAfter: number;
  breakdown: Record<string, number[]>;
  revokedBy: Record<string, number>;
}> {
  const orchestrator = await runActor(orchestratorKind, { id: 'bench-orch', bus: { servers: natsUrl } });
  const agents = [];
  for (let i = 0; i < CONTAINED_TASKS; i++) {
    const id = `bench-c-${i}`;
    const minted = (await mintLocal(natsUrl, { role: 'agent', id, tier: 'T1' }))!;
    agents.push(
      await startPlainAgent({ servers: natsUrl, id, tier: 'T1', creds: minted.creds, heartbeatMs: 200 }),
    );
  }
  const feed = watchContainment(client);
  await client.flush();
  const contained: number[] = [];
  const revoked: number[] = [];
  // Where the time goes, each from the breaching report: the breach event on the feed, the run's
  // `run-contained`, the last task's `cancelled` result, the token's `revoked`.
  const breakdown: Record<string, number[]> = {
    breach: [],
    runContained: [],
    lastCancelled: [],
    revoked: [],
  };
  const revokedBy: Record<string, number> = {};
  try {
    for (let i = 0; i < WARMUP / 4 + CONTAINMENTS; i++) {
      const { runId, w, t0 } = await containOneRun(client, feed.watch, i);
      if (i >= WARMUP / 4) {
        contained.push(w.doneAt! - t0);
        revoked.push(w.revokedAt! - t0);
        if (w.breachAt !== undefined) breakdown.breach!.push(w.breachAt - t0);
        breakdown.runContained!.push(w.containedAt! - t0);
        breakdown.lastCancelled!.push(w.lastCancelledAt! - t0);
        breakdown.revoked!.push(w.revokedAt! - t0);
        revokedBy[w.revokedFor ?? '?'] = (revokedBy[w.revokedFor ?? '?'] ?? 0) + 1;
      }
      // Every agent is idle again before the next run (their cancelled results are in).
      feed.forget(runId);
    }
  } finally {
    feed.unsubscribe();
    for (const a of agents) await a.stop();
    await orchestrator.stop();
  }
  return { contained, revoked, dispatchesAfter: feed.dispatchesAfter(), breakdown, revokedBy };
}

/**
 * One contained run: requested, awaited until running, one error counted, then the breaching report
 * sent at `t0`; settles once the run is contained (`w.done`).
 */
async function containOneRun(
  client: Bus,
  watch: (runId: string) => Watch,
  i: number,
): Promise<{ runId: string; w: Watch; t0: number }> {
  const accepted = await client.ask(serviceSubject('orchestrator'), {
    type: 'run.request.v1',
    body: { yaml: CONTAINED_RUN, params: {} },
  });
  if (accepted.type !== 'run.accepted.v1') throw new Error(accepted.type);
  const runId = accepted.body.runId;
  if (process.env.AGOV_BENCH_DEBUG) process.stderr.write(`contain bench: run ${i} ${runId}\n`);
  const w = watch(runId);
  const dbg = process.env.AGOV_BENCH_DEBUG
    ? setTimeout(async () => {
        const st = await client.ask(serviceSubject('orchestrator'), {
          type: 'run.get.v1',
          body: { runId },
        });
        process.stderr.write(`contain bench: not running ${JSON.stringify(w)} ${JSON.stringify(st.body)}\n`);
      }, 5_000)
    : undefined;
  await new Promise<void>((resolve) => {
    w.running = resolve;
    if (isRunning(w)) resolve();
  });
  clearTimeout(dbg);
  const report = {
    type: 'budget.report.v1',
    body: { runId, source: 'bench', outcome: 'error', code: 'GOV_ERR_TASK_FAILED' },
  } as const;
  // The monitor learns the budget from `run-accepted` on its durable consumer, which may lag the feed.
  for (;;) {
    const b = await client.ask(serviceSubject('budget-monitor'), {
      type: 'budget.status.v1',
      body: { runId },
    });
    if (b.type === 'budget.state.v1' && b.body.windows[0]?.windowMs === CONTAINED_WINDOW_MS) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  client.tell(errorsSubject(runId), report);
  await client.ask(serviceSubject('budget-monitor'), { type: 'budget.status.v1', body: { runId } });
  const done = new Promise<void>((resolve) => {
    w.done = resolve;
  });
  const t0 = performance.now();
  client.tell(errorsSubject(runId), report);
  const debug = process.env.AGOV_BENCH_DEBUG
    ? setTimeout(async () => {
        const b = await client.ask(serviceSubject('budget-monitor'), {
          type: 'budget.status.v1',
          body: { runId },
        });
        process.stderr.write(
          `contain bench: stuck ${i} ${runId} ${JSON.stringify(w)} ${JSON.stringify(b.body)}\n`,
        );
      }, 5_000)
    : undefined;
  await done;
  clearTimeout(debug);
  return { runId, w, t0 };
}
