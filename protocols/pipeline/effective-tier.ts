/**
 * The effective tier of a run request: the highest tier anything the request can start will run
 * at. Computed once, here, and used by every admission (the gateway, `agov run`, the orchestrator's
 * own run.request.v1 handler), so no route to a higher tier is left unchecked:
 *
 * - every stage: its agent tier, the minimum of its task kind, T2 for an exec with `network: true`;
 * - every template a `pipeline` stage names, and every child pipeline, transitively (cycles and depth
 *   bounded);
 * - the diagnostic pipeline of the error budget (`errorBudget.diagnostic`), transitively too, unless
 *   it is the operator's default one (`diagnostic`, not a template of the request's file);
 * - the token policies: `agov-tier-tN` needs tier N; any other name needs T2; `root` is never allowed.
 *
 * Child pipelines are read through an injected loader (the orchestrator's files), so this stays pure.
 * A reference that cannot be resolved adds nothing: that stage or diagnostic fails when it runs.
 * File references are checked with {@link checkPipelineRef} (relative, no `..`) before any loading.
 */
import { stringify } from 'yaml';
import { PolicyViolationError, TierForbiddenError } from '../vocabulary/errors.ts';
import {
  EXEC_NETWORK_MIN_TIER,
  HIGHEST_TIER,
  maxTier,
  minTierForTaskKind,
  type Tier,
  tierRank,
  TIERS,
} from '../vocabulary/tiers.ts';
import type { ResolvedPipeline, ResolvedStage } from './model.ts';
import { DEFAULT_DIAGNOSTIC_PIPELINE } from './options.ts';
import { INLINE_FILE, parsePipeline } from './parse.ts';

/** Where the requirement comes from: the stage (or policy) and the chain of pipelines leading to it. */
export interface TierRequirement {
  tier: Tier;
  /** Stage id (`diagnostic:NAME/stage`, `child/stage`…), or `token.policies`. */
  stageId: string;
  reason: string;
}

/** A child reference: a `pipeline` task's `file` or `name`, or a diagnostic name. */
export interface PipelineRef {
  file?: string;
  name?: string;
}

/** Loads a child pipeline (parsed, not instantiated) or undefined when it does not exist or is invalid. */
export type LoadPipeline = (
  ref: PipelineRef,
  from: ResolvedPipeline,
) => Promise<ResolvedPipeline | undefined>;

/** Most pipelines (root + children + diagnostics) one request may reach before admission refuses it. */
export const MAX_REACHABLE_PIPELINES = 64;

/** The Vault policy names of the tiers (agov-tier-t0…): the only policies a pipeline may declare below T2. */
const TIER_POLICY = new Map<string, Tier>(TIERS.map((t) => [`agov-tier-${t.toLowerCase()}`, t]));

/**
 * A `file:` reference must stay inside the pipeline directories: relative, without `..`, no NUL.
 * @throws PolicyViolationError otherwise (for every tier).
 */
export function checkPipelineRef(file: string): void {
  const parts = file.split(/[\\/]+/);
  if (
    file.startsWith('/') ||
    file.startsWith('\\') ||
    /^[A-Za-z]:/.test(file) ||
    parts.includes('..') ||
    file.includes('\0')
  ) {
    throw new PolicyViolationError(
      `pipeline reference ${JSON.stringify(file)} must be a relative path inside the pipeline directories (no absolute path, no ..)`,
      { details: { file } },
    );
  }
}

/** A diagnostic or registered pipeline name: letters, digits, `_ . -`, no path. */
export function checkPipelineName(name: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name) || name.includes('..')) {
    throw new PolicyViolationError(
      `pipeline name ${JSON.stringify(name)} must be a name (letters, digits, _ . -), not a path`,
      { details: { name } },
    );
  }
}

/** Tier a stage runs at: its agent tier, at least its task kind's minimum, T2 for an exec with network. */
export function stageTier(stage: Pick<ResolvedStage, 'agent' | 'task'>): Tier {
  let t = stage.agent.tier;
  t = maxTier(t, minTierForTaskKind(stage.task.kind) ?? HIGHEST_TIER);
  if (stage.task.kind === 'exec' && stage.task.network === true) t = maxTier(t, EXEC_NETWORK_MIN_TIER);
  return t;
}

/** Tier a declared token policy needs; `root` is refused for everyone. */
export function policyTier(policy: string): Tier {
  const p = policy.trim().toLowerCase();
  if (p === 'root') {
    throw new PolicyViolationError('token policy "root" is never granted to a run', { details: { policy } });
  }
  return TIER_POLICY.get(p) ?? HIGHEST_TIER;
}

/**
 * The tier of one pipeline's own stages and token policies (not its children): what the outputs of
 * its stages are at. A `root` policy (refused at admission) counts as the highest tier.
 */
export function ownTier(
  p: Pick<ResolvedPipeline, 'token'> & { stages: ReadonlyArray<Pick<ResolvedStage, 'agent' | 'task'>> },
): Tier {
  let t: Tier = 'T0';
  for (const st of p.stages) t = maxTier(t, stageTier(st));
  for (const policy of p.token.policies) {
    try {
      t = maxTier(t, policyTier(policy));
    } catch {
      t = HIGHEST_TIER;
    }
  }
  return t;
}

/** A template of `from`, compiled as a pipeline of its own (as the orchestrator runs it). */
export function templateAsPipeline(from: ResolvedPipeline, name: string): ResolvedPipeline | undefined {
  const template = from.templates[name];
  if (!template) return undefined;
  const doc = {
    name: `${from.name}.${name}`,
    version: from.version,
    parameters: template.parameters,
    templates: from.templates,
    stages: template.stages,
  };
  const parsed = parsePipeline(stringify(doc), `${from.file ?? INLINE_FILE}#${name}`);
  return parsed.ok ? parsed.pipeline : undefined;
}

/** The highest tier `root` can reach (see the module comment). */
export async function effectiveTier(root: ResolvedPipeline, load: LoadPipeline): Promise<TierRequirement> {
  let best: TierRequirement = { tier: 'T0', stageId: '(none)', reason: 'no stage needs more' };
  const raise = (r: TierRequirement) => {
    if (tierRank(r.tier) > tierRank(best.tier)) best = r;
  };
  const seen = new Set<string>();
  const queue: Array<{ p: ResolvedPipeline; prefix: string }> = [{ p: root, prefix: '' }];
  const resolveRef = async (ref: PipelineRef, from: ResolvedPipeline) => {
    if (ref.file !== undefined) checkPipelineRef(ref.file);
    if (ref.name !== undefined) {
      const t = templateAsPipeline(from, ref.name);
      if (t) return t;
      checkPipelineName(ref.name);
    }
    return load(ref, from);
  };
  while (queue.length > 0) {
    const { p, prefix } = queue.shift()!;
    const key = `${p.file ?? INLINE_FILE}\0${p.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (seen.size > MAX_REACHABLE_PIPELINES) {
      throw new PolicyViolationError(
        `the request reaches more than ${MAX_REACHABLE_PIPELINES} pipelines (children and diagnostics)`,
        { details: { max: MAX_REACHABLE_PIPELINES } },
      );
    }
    for (const policy of p.token.policies) {
      raise({
        tier: policyTier(policy),
        stageId: `${prefix}token.policies`,
        reason: `token policy ${policy}`,
      });
    }
    for (const st of p.stages) {
      raise({
        tier: stageTier(st),
        stageId: `${prefix}${st.id}`,
        reason: `stage ${prefix}${st.id} (${st.task.kind})`,
      });
      if (st.task.kind === 'pipeline') {
        const child = await resolveRef({ file: st.task.file, name: st.task.name }, p);
        if (child) queue.push({ p: child, prefix: `${prefix}${st.id}/` });
      }
    }
    // The operator's default diagnostic (not named by the request, not a template of it) is not the caller's doing.
    const diag = p.errorBudget.diagnostic;
    if (diag !== DEFAULT_DIAGNOSTIC_PIPELINE || p.templates[diag] !== undefined) {
      const child = await resolveRef({ name: diag }, p);
      if (child) queue.push({ p: child, prefix: `${prefix}diagnostic:${diag}/` });
    }
  }
  return best;
}

/**
 * Admission: refuses a request whose effective tier is above `callerTier`, naming the stage.
 * @throws TierForbiddenError (403 over HTTP) or PolicyViolationError (a `root` policy, a path reference).
 */
export async function assertAdmissible(
  root: ResolvedPipeline,
  callerTier: Tier,
  load: LoadPipeline,
  caller = 'the caller',
): Promise<TierRequirement> {
  const need = await effectiveTier(root, load);
  if (tierRank(need.tier) > tierRank(callerTier)) {
    throw new TierForbiddenError(
      `${need.reason} runs at ${need.tier}; ${caller} is ${callerTier} and may not start it`,
      { details: { required: need.tier, tier: callerTier, stageId: need.stageId } },
    );
  }
  return need;
}
