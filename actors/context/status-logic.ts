/**
 * Work status, pure: validating a target, applying an update, judging a sweep's findings and drawing
 * the dashboard. The actor (status-actor.ts) does the I/O: the KV bucket, the file system, the agent
 * directory.
 */
import { isAbsolute, normalize } from 'node:path';
import type { z } from 'zod';
import type { BodyOf } from '../../protocols/catalog.ts';
import { InvalidTargetError } from '../../protocols/vocabulary/errors.ts';
import type { WorkTargetSchema } from '../../protocols/messages/context.ts';
import { MAX_TARGET_CHARS } from './context-options.ts';

export type WorkTarget = z.output<typeof WorkTargetSchema>;
export type WorkTargetKind = WorkTarget['kind'];

/** Control characters (C0 and DEL). */
const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

/**
 * A target's canonical name and kind: `repo:<name>` and `service:<name>` are what they say; anything
 * else is a directory path (normalised; a relative one may not climb out with `..`).
 * @throws InvalidTargetError for an empty, over-long, control-character or climbing target.
 */
export function parseTarget(raw: string, kind?: WorkTargetKind): { target: string; kind: WorkTargetKind } {
  const bad = (why: string) =>
    new InvalidTargetError(`invalid target ${JSON.stringify(String(raw).slice(0, 80))}: ${why}`, {
      details: { target: String(raw).slice(0, 200) },
    });
  if (typeof raw !== 'string' || raw.trim() === '') throw bad('it is empty');
  if (raw.length > MAX_TARGET_CHARS) throw bad(`longer than ${MAX_TARGET_CHARS} characters`);
  if (hasControl(raw)) throw bad('it contains control characters');
  const prefixed = /^(repo|service):(.+)$/.exec(raw);
  if (prefixed) {
    const k: WorkTargetKind = prefixed[1] === 'repo' ? 'repository' : 'service';
    if (kind && kind !== k) throw bad(`its prefix says ${k}, the update says ${kind}`);
    return { target: raw, kind: k };
  }
  if (kind && kind !== 'directory') return { target: raw, kind };
  const path = normalize(raw).replace(/(.)\/+$/, '$1');
  if (!isAbsolute(path) && (path === '..' || path.startsWith('../')))
    throw bad('a relative path may not climb out with ..');
  return { target: path, kind: 'directory' };
}

/** Storage key of a target: KV keys allow few characters, so the name is base64url-encoded. */
export function targetKey(target: string): string {
  return Buffer.from(target, 'utf8').toString('base64url');
}

export interface UpdateMeta {
  by: string;
  now: number;
  defaultStaleAfterMs: number;
}

/** The target after an update (a new target starts `not-started` at 0 %; `complete` means 100 %). */
export function applyUpdate(
  previous: WorkTarget | undefined,
  update: BodyOf<'status.update.v1'>,
  meta: UpdateMeta,
): WorkTarget {
  const { target, kind } = parseTarget(update.target, update.kind ?? previous?.kind);
  const phase = update.phase ?? previous?.phase ?? (update.progress ? 'in-progress' : 'not-started');
  const progress = update.progress ?? (phase === 'complete' ? 100 : (previous?.progress ?? 0));
  const task = update.task ?? previous?.task;
  const owner = update.owner ?? previous?.owner;
  const runId = update.runId ?? previous?.runId;
  return {
    target,
    kind,
    phase,
    progress,
    ...(task !== undefined ? { task } : {}),
    ...(owner !== undefined ? { owner } : {}),
    ...(runId !== undefined ? { runId } : {}),
    updatedBy: meta.by,
    updatedAt: meta.now,
    staleAfterMs: update.staleAfterMs ?? previous?.staleAfterMs ?? meta.defaultStaleAfterMs,
    // An update is news: the last sweep's findings no longer hold.
    flags: [],
  };
}

export interface SweepFacts {
  now: number;
  /** For directory targets: whether the path exists. */
  exists?: boolean;
  /** For owned targets: whether the owner agent is alive (undefined: unknown). */
  ownerAlive?: boolean;
}

/** What a sweep flags on one target. A complete target is never stale. */
export function sweepFlags(t: WorkTarget, facts: SweepFacts): WorkTarget['flags'] {
  const flags: WorkTarget['flags'] = [];
  if (t.kind === 'directory' && facts.exists === false) flags.push('missing');
  if (t.phase !== 'complete' && facts.now - t.updatedAt > t.staleAfterMs) flags.push('stale');
  if (t.owner && facts.ownerAlive === false && t.phase !== 'complete') flags.push('owner-gone');
  return flags;
}

/** The dashboard's numbers: targets sorted by name, mean progress, count per phase. */
export function dashboard(targets: readonly WorkTarget[]): BodyOf<'status.dashboard.v1'> {
  const sorted = [...targets].sort((a, b) => a.target.localeCompare(b.target));
  const byPhase: Record<string, number> = {};
  for (const t of sorted) byPhase[t.phase] = (byPhase[t.phase] ?? 0) + 1;
  const overall =
    sorted.length === 0
      ? 0
      : Math.round((sorted.reduce((n, t) => n + t.progress, 0) / sorted.length) * 10) / 10;
  return { targets: sorted, overall, byPhase };
}

/** A progress bar of `width` cells: `██████░░░░`. */
export function progressBar(percent: number, width = 30): string {
  const full = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

const PHASE_MARK: Record<string, string> = {
  complete: '✅',
  'in-progress': '🚧',
  blocked: '⛔',
  review: '🔎',
  'not-started': '⬜',
};

/** The dashboard for a terminal. */
export function renderDashboard(d: BodyOf<'status.dashboard.v1'>): string {
  if (d.targets.length === 0) return 'no targets tracked (agov status update TARGET --phase in-progress)';
  const width = Math.max(6, ...d.targets.map((t) => t.target.length));
  const lines = [`Progress: ${progressBar(d.overall)} ${Math.round(d.overall)}%`, ''];
  for (const [phase, n] of Object.entries(d.byPhase))
    lines.push(`${PHASE_MARK[phase] ?? '·'} ${phase}: ${n}`);
  lines.push('');
  for (const t of d.targets) {
    const flags = t.flags.length ? `  [${t.flags.join(', ')}]` : '';
    lines.push(
      `${PHASE_MARK[t.phase] ?? '·'} ${t.target.padEnd(width)}  ${progressBar(t.progress, 10)} ${String(t.progress).padStart(3)}%  ${t.phase}${t.task ? ` — ${t.task}` : ''}${flags}`,
    );
  }
  return lines.join('\n');
}
