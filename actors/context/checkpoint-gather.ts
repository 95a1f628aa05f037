/**
 * Gathering a checkpoint: every part is asked of the actor that owns it, over the bus, all at once
 * (never read from another actor's store). A source that does not answer in time is recorded as
 * missing in `sources` and its part left empty: a checkpoint during an outage is still worth having.
 */
import type { Bus } from '../../bus/index.ts';
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { MessageType } from '../../protocols/catalog.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import { InternalError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox, serviceSubject } from '../../protocols/subjects.ts';
import type { Checkpoint } from './checkpoint-logic.ts';

export interface GatherOptions {
  timeoutMs: number;
  maxRuns: number;
  recentMemory: number;
  rootSupervisor: string;
}

type Parts = Omit<Checkpoint, 'id' | 'version' | 'seq' | 'createdAt' | 'takenBy' | 'reason' | 'notes'>;

type Ask = <R extends MessageType>(
  source: string,
  subject: string,
  msg: OutMessage,
  expect: R,
) => Promise<Envelope<R> | undefined>;

/** Asks one source; its answer, or undefined with the failure recorded in `sources` (with its time). */
function askerFor(bus: Bus, timeoutMs: number, now: () => number, sources: Parts['sources']): Ask {
  return async (source, subject, msg, expect) => {
    const t0 = now();
    try {
      const reply = await bus.ask(subject, msg, { timeoutMs });
      if (reply.type !== expect)
        throw new InternalError(`${subject} answered ${reply.type}, expected ${expect}`);
      sources[source] = { ok: true, ms: now() - t0 };
      return reply as Envelope<typeof expect>;
    } catch (err) {
      sources[source] = {
        ok: false,
        error: (err as Error).message?.slice(0, 300) ?? String(err),
        ms: now() - t0,
      };
      return undefined;
    }
  };
}

/** Each run's budget (budget monitor) and token state (token authority), asked side by side. */
function runGovernance(ask: Ask, runs: { runId: string }[]) {
  return Promise.all(
    runs.map(async (r) => {
      const [budget, token] = await Promise.all([
        ask(
          `budget:${r.runId}`,
          serviceSubject(ACTOR_KIND.budgetMonitor),
          { type: 'budget.status.v1', body: { runId: r.runId } },
          'budget.state.v1',
        ),
        ask(
          `token:${r.runId}`,
          serviceSubject(ACTOR_KIND.tokenAuthority),
          { type: 'token.status.v1', body: { runId: r.runId } },
          'token.state.v1',
        ),
      ]);
      return { budget: budget?.body, token: token?.body };
    }),
  );
}

export async function gatherCheckpoint(bus: Bus, o: GatherOptions, now: () => number): Promise<Parts> {
  const sources: Parts['sources'] = {};
  const ask = askerFor(bus, o.timeoutMs, now, sources);
  const orch = serviceSubject(ACTOR_KIND.orchestrator);
  const [running, pending, agents, tree, ledger, work, memory] = await Promise.all([
    ask(
      'runs',
      orch,
      { type: 'run.list.v1', body: { status: 'running', limit: o.maxRuns } },
      'run.states.v1',
    ),
    ask(
      'runs-pending',
      orch,
      { type: 'run.list.v1', body: { status: 'pending', limit: o.maxRuns } },
      'run.states.v1',
    ),
    ask(
      'agents',
      serviceSubject(ACTOR_KIND.agentDirectory),
      { type: 'agent.status.v1', body: {} },
      'agent.states.v1',
    ),
    ask(
      'tree',
      actorInbox(ACTOR_KIND.supervisor, o.rootSupervisor),
      { type: 'supervisor.status.v1', body: { deep: true } },
      'supervisor.tree.v1',
    ),
    ask(
      'ledger',
      serviceSubject(ACTOR_KIND.ledgerWriter),
      { type: 'ledger.head.v1', body: { fresh: true } },
      'ledger.checkpoint.v1',
    ),
    ask(
      'work',
      serviceSubject(ACTOR_KIND.workStatus),
      { type: 'status.query.v1', body: {} },
      'status.dashboard.v1',
    ),
    o.recentMemory > 0
      ? ask(
          'memory',
          serviceSubject(ACTOR_KIND.memory),
          { type: 'memory.list.v1', body: { limit: o.recentMemory } },
          'memory.entries.v1',
        )
      : Promise.resolve(undefined),
  ]);
  // Stage outputs can be large and are in the run store; the checkpoint keeps where each run is.
  const runs = [...(running?.body.runs ?? []), ...(pending?.body.runs ?? [])].map((r) => ({
    ...r,
    stages: r.stages.map(({ output: _output, ...s }) => s),
  }));
  const perRun = await runGovernance(ask, runs);
  // Per-run sources that failed because the run has no budget or token are noise; keep only a count.
  for (const k of Object.keys(sources)) if (k.includes(':') && sources[k]!.ok) delete sources[k];
  return {
    sources,
    runs,
    agents: agents?.body.agents ?? [],
    budgets: perRun.flatMap(({ budget: b }) =>
      b ? [{ runId: b.runId, verdict: b.verdict, breached: b.breached, kind: b.kind }] : [],
    ),
    tokens: perRun.flatMap(({ token: t }) =>
      t
        ? [
            {
              runId: t.runId,
              state: t.state,
              ...(t.accessor ? { accessor: t.accessor } : {}),
              ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
            },
          ]
        : [],
    ),
    ...(tree ? { tree: tree.body } : {}),
    ...(ledger ? { ledger: ledger.body } : {}),
    work: (work?.body.targets ?? []).filter((t) => t.phase !== 'complete'),
    memory: memory?.body.entries ?? [],
  };
}
