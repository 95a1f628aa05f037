export * from './bus.ts';
export * from './bus-metrics.ts';
export * from './bus-options.ts';
export type { ConnectionState } from './connection.ts';
export * from './streams.ts';
