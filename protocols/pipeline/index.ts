/**
 * The pipeline DSL: YAML pipeline files, their validation with located diagnostics,
 * template expansion, parameter interpolation and DAG helpers. Pure logic, no bus.
 * Reference: docs/pipeline-dsl.md.
 */
export { dependentsOf, findCycles, readyStages, type StageNode, topologicalOrder } from './dag.ts';
export {
  compareDiagnostics,
  DIAGNOSTIC_CODES,
  type Diagnostic,
  type DiagnosticCode,
  formatDiagnostic,
} from './diagnostics.ts';
export {
  assertAdmissible,
  checkPipelineName,
  checkPipelineRef,
  effectiveTier,
  type LoadPipeline,
  MAX_REACHABLE_PIPELINES,
  type PipelineRef,
  ownTier,
  policyTier,
  stageTier,
  templateAsPipeline,
  type TierRequirement,
} from './effective-tier.ts';
export { instantiatePipeline } from './instantiate.ts';
export { PIPELINE_JSON_SCHEMA_FILE, pipelineJsonSchema, renderPipelineJsonSchema } from './json-schema.ts';
export type {
  Concrete,
  ConcretePipeline,
  ConcreteStage,
  CountErrorBudget,
  ErrorBudget,
  ResolvedAgentSelector,
  ResolvedPipeline,
  ResolvedStage,
  SloErrorBudget,
} from './model.ts';
export * from './options.ts';
export { INLINE_FILE, type ParseResult, parsePipeline } from './parse.ts';
export {
  HTTP_METHODS,
  ON_FAILURE,
  type OnFailure,
  PARAMETER_TYPES,
  type ParameterSpec,
  type ParameterType,
  type ParamRef,
  PipelineFileSchema,
  type PipelineFile,
  type Retries,
  ScalarSchema,
  type Scalar,
  type Task,
  type TaskOf,
  type Template,
  type TokenSettings,
} from './schema.ts';
export {
  canRunTaskKind,
  maxTier,
  minTierForTaskKind,
  TASK_KIND_MIN_TIER,
  TASK_KINDS,
  type TaskKind,
  TIERS,
  type Tier,
  tierRank,
} from '../vocabulary/tiers.ts';
export { type ValidateResult, validateFiles } from './validate-files.ts';
