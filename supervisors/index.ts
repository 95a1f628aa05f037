export * from './child-spec.ts';
export * from './heartbeat-watchdog.ts';
export * from './process-child.ts';
export * from './supervisor.ts';
export * from './supervisor-escalation.ts';
export * from './supervisor-logic.ts';
export * from './supervisor-options.ts';
export * from './supervisor-tree.ts';
