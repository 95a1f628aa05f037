export { collect, testBus } from './bus-client.ts';
export { rawConnection } from './raw-connection.ts';
export { type ServeHandler, type ServeOptions, serve } from './serve.ts';
export { TestServers } from './servers.ts';
export { waitFor } from './wait-for.ts';
