/** Operator controls over the bus (docs/protocol.md "Operator controls"). */
export { callerOf, controlKind } from './control-actor.ts';
export * from './control-options.ts';
