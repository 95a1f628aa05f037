/** Graph helpers over stages and their `needs`. */
import { PipelineInvalidError } from '../vocabulary/errors.ts';

export interface StageNode {
  id: string;
  needs: readonly string[];
}

interface HasStages<S extends StageNode> {
  stages: readonly S[];
}

/**
 * Stages in an order where each comes after everything it needs; among stages that are
 * free at the same time, declaration order is kept. Throws PipelineInvalidError on a cycle
 * (a pipeline that passed `parsePipeline` has none).
 */
export function topologicalOrder<S extends StageNode>(pipeline: HasStages<S>): S[] {
  const done = new Set<string>();
  const out: S[] = [];
  const pending = [...pipeline.stages];
  while (pending.length > 0) {
    const idx = pending.findIndex((s) => s.needs.every((n) => done.has(n)));
    if (idx < 0) {
      const cycle = findCycles(pending)[0] ?? pending.map((s) => s.id);
      throw new PipelineInvalidError(`stages cannot be ordered: needs cycle ${cycle.join(' -> ')}`, {
        details: { cycle },
      });
    }
    const [stage] = pending.splice(idx, 1) as [S];
    done.add(stage.id);
    out.push(stage);
  }
  return out;
}

/** Stages not yet done whose needs are all done, in declaration order. */
export function readyStages<S extends StageNode>(pipeline: HasStages<S>, doneIds: ReadonlySet<string>): S[] {
  return pipeline.stages.filter((s) => !doneIds.has(s.id) && s.needs.every((n) => doneIds.has(n)));
}

/** Ids of every stage that needs `id`, directly or not, in declaration order. */
export function dependentsOf<S extends StageNode>(pipeline: HasStages<S>, id: string): string[] {
  const found = new Set<string>([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of pipeline.stages) {
      if (!found.has(s.id) && s.needs.some((n) => found.has(n))) {
        found.add(s.id);
        grew = true;
      }
    }
  }
  found.delete(id);
  return pipeline.stages.filter((s) => found.has(s.id)).map((s) => s.id);
}

/**
 * Each distinct cycle among `needs`, as a path in needs-direction that ends where it
 * starts (`['a', 'b', 'a']`: a needs b, b needs a). Needs of unknown ids are ignored.
 */
export function findCycles(stages: readonly StageNode[]): string[][] {
  const byId = new Map(stages.map((s) => [s.id, s]));
  const state = new Map<string, 'open' | 'closed'>();
  const stack: string[] = [];
  const seen = new Set<string>();
  const cycles: string[][] = [];

  const visit = (id: string): void => {
    state.set(id, 'open');
    stack.push(id);
    for (const need of byId.get(id)?.needs ?? []) {
      if (!byId.has(need)) continue;
      const st = state.get(need);
      if (st === 'open') {
        const cycle = [...stack.slice(stack.indexOf(need)), need];
        const key = [...new Set(cycle)].sort().join('\u0000');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (st === undefined) {
        visit(need);
      }
    }
    stack.pop();
    state.set(id, 'closed');
  };

  for (const s of stages) if (!state.has(s.id)) visit(s.id);
  return cycles;
}
