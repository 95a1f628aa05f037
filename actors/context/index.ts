/**
 * Context management (docs/context.md): checkpoints, work status and external memory, each an actor
 * over NATS with its storage in JetStream KV / object store.
 */
export { checkpointId, checkpointKind } from './checkpoint-actor.ts';
export { gatherCheckpoint } from './checkpoint-gather.ts';
export * from './checkpoint-logic.ts';
export * from './context-options.ts';
export { memoryKind } from './memory-actor.ts';
export { encodeContent } from '../../protocols/memory-content.ts';
export { contentId, type MemoryEntry, MemoryStore, memoryStats } from './memory-store.ts';
export { formatSummary, isText, type MemorySummary, summarize } from './memory-summary.ts';
export { readTargets, workStatusKind } from './status-actor.ts';
export * from './status-logic.ts';
export { type ContextCaller, contextCallerOf, requireCaller, requireTier } from './tier-gate.ts';
export { RestoreLog, type RestoreRecord } from './restore-log.ts';
