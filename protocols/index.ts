export * from './catalog.ts';
export * from './codec.ts';
export * from './envelope.ts';
export * from './vocabulary/index.ts';
export * from './subjects.ts';
export { SerializedErrorSchema } from './messages/system.ts';
export * from './actor-kinds.ts';
export type { SupervisorSummary, SupervisorTree } from './messages/supervisor.ts';
export {
  DEFAULT_TREE_DEPTH,
  DEFAULT_TREE_PAGE_CHILDREN,
  MAX_TREE_DEPTH,
  MAX_TREE_PAGE_CHILDREN,
} from './messages/supervisor.ts';
export { AgentStateSchema } from './messages/agent.ts';
export {
  AGENT_CONTROLS,
  BUDGET_CONTROLS,
  ControlCommandSchema,
  RUN_CONTROLS,
  TOKEN_CONTROLS,
} from './messages/control.ts';
export { HandoffReportSchema, PipelineErrorBudgetSchema } from './messages/governance.ts';
export * from './agent-identity.ts';
export { encodeContent, isText } from './memory-content.ts';
