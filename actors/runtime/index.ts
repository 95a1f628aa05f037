export * from './actor.ts';
export * from './actor-host.ts';
export * from './actor-kind.ts';
export * from './actor-options.ts';
export * from './registry.ts';
export * from './start-args.ts';
export * from './audit-outbox.ts';
