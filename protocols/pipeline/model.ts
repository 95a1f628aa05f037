/**
 * The shapes a parsed pipeline takes: `ResolvedPipeline` (templates expanded, defaults
 * filled, run-time parameters still as `${{ params.x }}`) and `ConcretePipeline`
 * (parameters interpolated, ready to run).
 */
import type {
  OnFailure,
  ParameterSpec,
  ParamRef,
  Retries,
  Scalar,
  Task,
  Template,
  TokenSettings,
} from './schema.ts';
import type { Tier } from '../vocabulary/tiers.ts';

export interface ResolvedAgentSelector {
  /** Minimum tier: as declared, else the lowest tier the task kind allows. */
  tier: Tier;
  role?: string;
  team?: string;
}

export interface ResolvedStage {
  /** Unique id; template stages are namespaced (`build.compile`). */
  id: string;
  description?: string;
  /** Ids of the stages that must be done first (template instance names already expanded). */
  needs: string[];
  agent: ResolvedAgentSelector;
  task: Task;
  timeoutMs: number | ParamRef;
  /** Longest the stage waits, once ready, for an agent to take it (schedule-to-start). */
  scheduleToStartMs: number | ParamRef;
  retries: Retries;
  onFailure: OnFailure;
  /** Set on stages that came from a template. */
  template?: { name: string; instance: string };
}

export interface CountErrorBudget {
  kind: 'count';
  maxErrors: number;
  windowMs: number;
  warn: number;
  breach: number;
  diagnostic: string;
}

export interface SloErrorBudget {
  kind: 'slo';
  slo: number;
  periodMs: number;
  burnWindowMs: number;
  warnBurnRate: number;
  breachBurnRate: number;
  warn: number;
  breach: number;
  diagnostic: string;
}

export type ErrorBudget = CountErrorBudget | SloErrorBudget;

export interface ResolvedPipeline {
  /** File the pipeline was read from, when known. */
  file?: string;
  name: string;
  version: string;
  description?: string;
  parameters: Record<string, ParameterSpec>;
  /** The file's templates, kept so a template can be spawned by name (e.g. as the diagnostic). */
  templates: Record<string, Template>;
  stages: ResolvedStage[];
  errorBudget: ErrorBudget;
  token: TokenSettings;
}

/** `T` with every `${{ params.x }}` placeholder resolved (numbers stay numbers). */
export type Concrete<T> = T extends ParamRef
  ? never
  : T extends readonly (infer U)[]
    ? Concrete<U>[]
    : T extends object
      ? { [K in keyof T]: Concrete<T[K]> }
      : T;

export type ConcreteStage = Concrete<ResolvedStage>;

export interface ConcretePipeline extends Omit<ResolvedPipeline, 'stages'> {
  stages: ConcreteStage[];
  /** Effective parameter values: given ones over defaults. */
  params: Record<string, Scalar>;
}
