export { counterKind } from './counter.ts';
export { echoKind } from './echo.ts';
export * from './runtime/index.ts';
export { type AgentState, AgentDirectoryTable, agentDirectoryKind } from './agent-directory.ts';
