export * from './clock.ts';
export * from './find-binary.ts';
export * from './free-port.ts';
export * from './logger.ts';
export * from './managed-process.ts';
export * from './nats-server.ts';
export * from './redis-server.ts';
export * from './services.ts';
