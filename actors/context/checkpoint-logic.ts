/**
 * Checkpoints, pure: the timeline's "what changed" between two checkpoints, and the restore plan —
 * which agent commands bring today's fleet back to a checkpoint's tiers and quarantines. Only what is
 * safe to re-apply is planned: a command the agent itself checks (tier rules) and that can be undone.
 * Runs, tokens and the ledger are recorded, never re-applied (the orchestrator resumes runs from its
 * own store; tokens are re-issued, never restored; the ledger is append-only).
 */
import type { z } from 'zod';
import type { BodyOf } from '../../protocols/catalog.ts';
import type { CheckpointSchema, CheckpointSummarySchema } from '../../protocols/messages/context.ts';
import { type Tier, tierRank } from '../../protocols/vocabulary/tiers.ts';

export type Checkpoint = z.output<typeof CheckpointSchema>;
export type CheckpointSummary = z.output<typeof CheckpointSummarySchema>;
type AgentState = Checkpoint['agents'][number];
export type RestoreAction = BodyOf<'checkpoint.restored.v1'>['actions'][number];

/** Agent states a restore re-applies (others are the agent's own business: idle, working…). */
const HELD_STATES = { quarantined: 'quarantine', suspended: 'suspend' } as const;

/** What a checkpoint holds that a restore does not re-apply, and why (said in every restore answer). */
export const NOT_RESTORED = [
  'runs: the orchestrator resumes runs in flight from its own store; cancelled or finished runs are not restarted (a run paused in the checkpoint and running now is paused again)',
  'tokens: Vault tokens are re-issued per run, never restored (a checkpoint keeps accessors, not tokens)',
  'budgets: error-budget counts live in the budget monitor and are not rewritten from a snapshot (that would forge their history); a breach is latched there and reset by an operator (agov budget reset RUN)',
  'ledger: append-only; the checkpoint records its signed tree head for verification',
  'supervision tree: rebuilt by the supervisors from the system spec',
];

/** One line per difference, in a stable order. */
export function diffCheckpoints(prev: Checkpoint | undefined, next: Checkpoint): string[] {
  if (!prev) return ['first checkpoint'];
  const out: string[] = [];
  const prevRuns = new Map(prev.runs.map((r) => [r.runId, r]));
  const nextRuns = new Map(next.runs.map((r) => [r.runId, r]));
  for (const [id, r] of nextRuns)
    if (!prevRuns.has(id)) out.push(`run ${id} (${r.pipeline}) ${r.status}`);
    else if (prevRuns.get(id)!.status !== r.status)
      out.push(`run ${id}: ${prevRuns.get(id)!.status} → ${r.status}`);
  for (const id of prevRuns.keys()) if (!nextRuns.has(id)) out.push(`run ${id} no longer in flight`);
  const prevAgents = new Map(prev.agents.map((a) => [a.agentId, a]));
  const nextAgents = new Map(next.agents.map((a) => [a.agentId, a]));
  for (const [id, a] of nextAgents) {
    const p = prevAgents.get(id);
    if (!p) out.push(`agent ${id} appeared (${a.tier}, ${a.state})`);
    else {
      if (p.tier !== a.tier) out.push(`agent ${id}: tier ${p.tier} → ${a.tier}`);
      if (p.state !== a.state) out.push(`agent ${id}: ${p.state} → ${a.state}`);
    }
  }
  for (const id of prevAgents.keys()) if (!nextAgents.has(id)) out.push(`agent ${id} gone`);
  const prevWork = new Map(prev.work.map((t) => [t.target, t]));
  for (const t of next.work) {
    const p = prevWork.get(t.target);
    if (!p) out.push(`target ${t.target}: ${t.phase} ${t.progress}%`);
    else if (p.phase !== t.phase || p.progress !== t.progress)
      out.push(`target ${t.target}: ${p.phase} ${p.progress}% → ${t.phase} ${t.progress}%`);
  }
  if (prev.ledger && next.ledger && next.ledger.size !== prev.ledger.size)
    out.push(`ledger +${next.ledger.size - prev.ledger.size} entries (size ${next.ledger.size})`);
  const known = new Set(prev.memory.map((m) => m.id));
  const fresh = next.memory.filter((m) => !known.has(m.id)).length;
  if (fresh > 0) out.push(`memory +${fresh} recent blobs`);
  return out.length ? out : ['no change'];
}

export function summarizeCheckpoint(c: Checkpoint, prev: Checkpoint | undefined): CheckpointSummary {
  return {
    id: c.id,
    seq: c.seq,
    createdAt: c.createdAt,
    reason: c.reason,
    ...(c.notes ? { notes: c.notes } : {}),
    runs: c.runs.length,
    agents: c.agents.length,
    work: c.work.length,
    ...(c.ledger ? { ledgerSize: c.ledger.size } : {}),
    changes: diffCheckpoints(prev, c),
  };
}

/**
 * The agent commands that bring `current` back to the checkpoint's tiers and held states (quarantined,
 * suspended). Agents the checkpoint knew that are not running now are skipped (said so); agents that
 * appeared since are left alone.
 */
export function planRestore(
  cp: Checkpoint,
  current: readonly AgentState[],
  runsNow: readonly Checkpoint['runs'][number][] = [],
): RestoreAction[] {
  const now = new Map(current.map((a) => [a.agentId, a]));
  const actions: RestoreAction[] = [];
  for (const want of cp.agents) {
    const have = now.get(want.agentId);
    if (!have || ['exited', 'crashed', 'unreachable', 'terminated'].includes(have.state)) {
      actions.push({
        kind: 'agent-tier',
        target: want.agentId,
        command: 'none',
        outcome: 'skipped',
        detail: 'not running now',
      });
      continue;
    }
    const steps = tierRank(want.tier as Tier) - tierRank(have.tier as Tier);
    for (let i = 0; i < Math.abs(steps); i++)
      actions.push({
        kind: 'agent-tier',
        target: want.agentId,
        command: steps > 0 ? 'promote' : 'demote',
        outcome: 'planned',
        detail: `${have.tier} → ${want.tier}`,
      });
    const held = HELD_STATES[want.state as keyof typeof HELD_STATES];
    if (held && have.state !== want.state)
      actions.push({
        kind: held === 'quarantine' ? 'agent-quarantine' : 'agent-suspend',
        target: want.agentId,
        command: held,
        outcome: 'planned',
        detail: `${have.state} → ${want.state}`,
      });
  }
  // Runs an operator held when the checkpoint was taken, running now and no longer held: held again.
  const liveRuns = new Map(runsNow.map((r) => [r.runId, r]));
  for (const want of cp.runs) {
    if (!want.paused) continue;
    const have = liveRuns.get(want.runId);
    if (have?.status !== 'running')
      actions.push({
        kind: 'run-pause',
        target: want.runId,
        command: 'none',
        outcome: 'skipped',
        detail: have ? `run is ${have.status}` : 'not in flight now',
      });
    else if (!have.paused)
      actions.push({
        kind: 'run-pause',
        target: want.runId,
        command: 'pause',
        outcome: 'planned',
        detail: `paused by ${want.paused.by ?? 'an operator'}${want.paused.reason ? `: ${want.paused.reason}` : ''}`,
      });
  }
  return actions;
}

/** The combined report: latest checkpoint, dashboard, memory stats and ledger head, as text. */
export function renderCheckpoint(c: Checkpoint): string {
  const lines = [
    `checkpoint ${c.id} (#${c.seq}) taken ${new Date(c.createdAt).toISOString()} by ${c.takenBy} (${c.reason})`,
  ];
  if (c.notes) lines.push(`notes: ${c.notes}`);
  const down = Object.entries(c.sources).filter(([, s]) => !s.ok);
  if (down.length) lines.push(`missing sources: ${down.map(([n, s]) => `${n} (${s.error})`).join('; ')}`);
  lines.push(`runs in flight: ${c.runs.length}`);
  for (const r of c.runs) {
    const done = r.stages.filter((s) => s.status === 'succeeded' || s.status === 'skipped').length;
    lines.push(`  ${r.runId} ${r.pipeline} ${r.status} ${done}/${r.stages.length} stages`);
  }
  lines.push(`agents: ${c.agents.length}`);
  for (const a of c.agents)
    lines.push(`  ${a.agentId} ${a.tier} ${a.state}${a.team ? ` team ${a.team}` : ''}`);
  if (c.tokens.length)
    lines.push(
      `tokens: ${c.tokens.map((t) => `${t.runId} ${t.state}${t.accessor ? ` accessor ${t.accessor}` : ''}`).join('; ')}`,
    );
  if (c.budgets.length) lines.push(`budgets: ${c.budgets.map((b) => `${b.runId} ${b.verdict}`).join('; ')}`);
  if (c.ledger)
    lines.push(`ledger: size ${c.ledger.size} root ${c.ledger.root.slice(0, 16)}… key ${c.ledger.keyId}`);
  lines.push(`open work: ${c.work.length}`);
  for (const t of c.work)
    lines.push(`  ${t.target} ${t.phase} ${t.progress}%${t.task ? ` — ${t.task}` : ''}`);
  lines.push(`recent memory: ${c.memory.length}`);
  for (const m of c.memory)
    lines.push(`  ${m.id.slice(0, 12)} ${m.size}B ${m.summary.format} ${m.tags.join(',')}`);
  return lines.join('\n');
}
