/**
 * The words every message uses — error classes and codes, tiers, run and stage statuses — below the
 * message catalog and the pipeline DSL, which both build on them (so neither imports the protocols
 * root that re-exports it). Light: no zod, no codec, so offline tools (`agov ledger`) load only this.
 */
export * from './errors.ts';
export * from './run-status.ts';
export * from './tiers.ts';
