/**
 * The orchestrator actor (kind `orchestrator`): runs pipelines (docs/orchestrator.md). Its face for
 * other folders: the kind, the pipeline loader `agov run` validates with, the name of its store's
 * bucket, and the read-only reader of a stopped system's runs (stored-runs.ts).
 */
export { DEFAULT_RUNS_BUCKET } from './options.ts';
export { orchestratorKind } from './orchestrator.ts';
export { pipelineLoader } from './pipeline-source.ts';
export { StoredRuns } from './stored-runs.ts';
