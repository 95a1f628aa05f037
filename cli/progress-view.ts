/**
 * Live progress of one run in a terminal: one line per stage with a bar on a TTY (redrawn in place),
 * plain timestamped lines otherwise (CI logs, pipes).
 */
import type { BodyOf } from '../protocols/index.ts';

type RunEvent = BodyOf<'run.event.v1'>;
type StageStatus = BodyOf<'run.state.v1'>['stages'][number]['status'];

interface Line {
  status: StageStatus | 'retrying' | 'timed out';
  fraction: number | undefined;
  attempt: number;
  agentId: string | undefined;
  note: string;
}

const BAR_WIDTH = 20;
const ICON: Record<Line['status'], string> = {
  pending: '·',
  dispatched: '→',
  running: '▶',
  succeeded: '✓',
  failed: '✗',
  skipped: '-',
  cancelled: '⊘',
  retrying: '↻',
  'timed out': '⏱',
};

export interface ProgressOutput {
  write(s: string): unknown;
  isTTY?: boolean;
}

export class ProgressView {
  private readonly lines = new Map<string, Line>();
  private drawn = 0;
  private readonly started = Date.now();
  private readonly width: number;

  constructor(
    private readonly runId: string,
    stages: readonly string[],
    private readonly out: ProgressOutput,
    private readonly tty = Boolean(out.isTTY),
  ) {
    for (const s of stages)
      this.lines.set(s, { status: 'pending', fraction: undefined, attempt: 0, agentId: undefined, note: '' });
    this.width = Math.max(5, ...stages.map((s) => s.length));
    if (tty) this.redraw();
  }

  /** Applies one event of this run (or of one of its child runs). */
  onEvent(e: RunEvent): void {
    if (e.runId !== this.runId) {
      if (!this.tty && e.parentRunId === this.runId) this.plain(`  child ${e.runId}: ${describe(e)}`);
      return;
    }
    const line = e.stageId ? this.lines.get(e.stageId) : undefined;
    if (line) {
      if (e.attempt !== undefined) line.attempt = e.attempt;
      if (e.agentId !== undefined) line.agentId = e.agentId;
      switch (e.event) {
        case 'stage-dispatched':
          line.status = 'dispatched';
          line.fraction = undefined;
          line.note = '';
          break;
        case 'stage-accepted':
          line.status = 'running';
          break;
        case 'stage-progress':
          line.status = 'running';
          if (e.fraction !== undefined) line.fraction = e.fraction;
          break;
        case 'stage-succeeded':
          line.status = 'succeeded';
          line.fraction = 1;
          break;
        case 'stage-failed':
          line.status = 'failed';
          line.note = e.error ? `${e.error.code}: ${e.error.message}` : '';
          break;
        case 'stage-retrying':
          line.status = 'retrying';
          line.note = e.error ? `${e.error.code}: ${e.error.message}` : '';
          break;
        case 'stage-timed-out':
          line.status = 'timed out';
          break;
        case 'stage-skipped':
          line.status = 'skipped';
          break;
        default:
          break;
      }
    }
    if (this.tty) this.redraw();
    else this.plain(describe(e));
  }

  /** The closing summary from the run's final state. */
  finish(state: BodyOf<'run.state.v1'>): void {
    for (const s of state.stages) {
      const line = this.lines.get(s.stageId);
      if (line && (s.status === 'cancelled' || s.status === 'skipped')) line.status = s.status;
    }
    if (this.tty) this.redraw();
    const secs = ((Date.now() - this.started) / 1000).toFixed(2);
    const error = state.error ? ` — ${state.error.code}: ${state.error.message}` : '';
    this.out.write(`run ${state.runId} ${state.status} in ${secs}s${error}\n`);
  }

  private plain(text: string) {
    const secs = ((Date.now() - this.started) / 1000).toFixed(3).padStart(7);
    this.out.write(`[${secs}s] ${text}\n`);
  }

  private redraw() {
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const [id, l] of this.lines) {
      const frac = l.status === 'succeeded' ? 1 : (l.fraction ?? 0);
      const filled = Math.round(frac * BAR_WIDTH);
      const bar =
        l.status === 'running' && l.fraction === undefined
          ? '~'.repeat(BAR_WIDTH)
          : '#'.repeat(filled) + '.'.repeat(BAR_WIDTH - filled);
      const who = l.agentId ? ` ${l.agentId}` : '';
      const attempt = l.attempt > 1 ? ` (attempt ${l.attempt})` : '';
      s += `\x1b[2K ${ICON[l.status]} ${id.padEnd(this.width)} [${bar}] ${String(Math.round(frac * 100)).padStart(3)}% ${l.status}${who}${attempt}${l.note ? `  ${l.note}` : ''}\n`;
    }
    this.drawn = this.lines.size;
    this.out.write(s);
  }
}

function describe(e: RunEvent): string {
  const stage = e.stageId ? `stage ${e.stageId} ` : '';
  const agent = e.agentId ? ` on ${e.agentId}` : '';
  const attempt = e.attempt !== undefined ? ` (attempt ${e.attempt})` : '';
  const fraction = e.fraction !== undefined ? ` ${Math.round(e.fraction * 100)}%` : '';
  const error = e.error ? ` — ${e.error.code}: ${e.error.message}` : '';
  return `${stage}${e.event.replace(/^(stage|run)-/, '')}${fraction}${agent}${attempt}${error}`;
}
