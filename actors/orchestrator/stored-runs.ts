/**
 * The runs a stopped system left in its store, read without an orchestrator: the offline side of
 * `run.list.v1` / `run.get.v1`, answered the same way (newest first, `limit` at most, the same
 * `run.state.v1` view). It serves one operator tool, `agov runs` / `agov run-status` on a data folder
 * whose system is not running (after `agov run` on embedded defaults stopped it, say). Whenever a
 * system runs, the CLI asks its orchestrator over the bus instead: this reader is read-only (nothing
 * is resumed, adopted or written) and never sees what a live orchestrator holds in memory only.
 */
import type { Bus } from '../../bus/index.ts';
import type { BodyOf } from '../../protocols/index.ts';
import { DEFAULT_LIST_LIMIT } from './options.ts';
import { RunStore } from './run-store.ts';
import { toRunState } from './run-view.ts';

type RunState = BodyOf<'run.state.v1'>;

/** Reads the stored runs over `bus` (a client of the stopped system's own nats-server). */
export class StoredRuns {
  private constructor(private readonly store: RunStore) {}

  static async open(bus: Bus): Promise<StoredRuns> {
    return new StoredRuns(await RunStore.open(bus));
  }

  /** As `run.list.v1` answers: runs with `status` (any when omitted), newest first. */
  async list(status?: string, limit = DEFAULT_LIST_LIMIT): Promise<RunState[]> {
    return (await this.store.all())
      .filter((r) => status === undefined || r.status === status)
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, limit)
      .map(toRunState);
  }

  /** As `run.get.v1` answers, or undefined for a run the store does not hold. */
  async get(runId: string): Promise<RunState | undefined> {
    const r = await this.store.get(runId);
    return r ? toRunState(r) : undefined;
  }
}
