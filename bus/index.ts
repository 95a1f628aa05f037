export * from './bus.ts';
export * from './bus-metrics.ts';
export * from './bus-options.ts';
export type { ConnectionState } from './connection.ts';
export * from './durable-consumer.ts';
export * from './js-publisher.ts';
export * from './streams.ts';
export * from './governance-events.ts';
export * from './shared-connection.ts';
