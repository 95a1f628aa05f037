/**
 * The composition root: the one table of actor kinds, the system spec (which services, which teams,
 * how they are supervised), and `startSystem`, the one way a whole system starts.
 */
export * from './environment-args.ts';
export * from './kinds.ts';
export * from './start-system.ts';
export * from './system-options.ts';
export * from './system-spec.ts';
export * from './teams.ts';
