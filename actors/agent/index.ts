/**
 * The agent actor (kind `agent`): its lifecycle machine, persisted lifecycle, options, and what each
 * tier may command. Tiers and the task kinds each may run live in protocols/vocabulary/tiers.ts. See docs/agents.md.
 */
export { agentKind } from './agent.ts';
export {
  environmentSecrets,
  EnvironmentSecrets,
  MIN_SECRET_LENGTH,
  REDACTED,
  redactSecrets,
} from './redact.ts';
export { AGENT_ENV_DENYLIST, type RunningTask, TaskHost, type TaskHostDeps } from './task-host.ts';
export * from './agent-options.ts';
export {
  allowedEvents,
  canAccept,
  DEFAULT_AGENT_TIER,
  DEFAULT_MAX_BOOTSTRAP_RETRIES,
  DEFAULT_VIOLATION_HISTORY_LIMIT,
  isLifecycleState,
  type LifecycleActor,
  type LifecycleContext,
  type LifecycleError,
  type LifecycleErrorInput,
  type LifecycleEvent,
  type LifecycleEventType,
  type LifecycleInput,
  type LifecycleMachine,
  lifecycleMachine,
  type LifecycleSnapshot,
  type LifecycleState,
  lifecycleStates,
  type LifecycleTask,
  type PolicyViolation,
  type RejectedCommand,
  requiredTierForTask,
  restoreLifecycle,
  type SuspendReason,
  tierAllowsTask,
} from './lifecycle-machine.ts';
export {
  LIFECYCLE_RECORD_VERSION,
  lifecycleKey,
  LifecycleStore,
  type PersistedAgent,
  type PersistedTaskRef,
  parsePersistedAgent,
} from './lifecycle-store.ts';
export { AGENT_TASK_KINDS, runTask, type TaskOutcome, type TaskRunContext } from './tasks/index.ts';
export {
  makeTaskDir,
  probeSandbox,
  SANDBOX_WORK_DIR,
  type SandboxLimits,
  type SandboxSettings,
  sandboxSpawn,
} from './tasks/sandbox.ts';
export * from './tiers.ts';
