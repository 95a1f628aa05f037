export { TestServers } from './servers.ts';
export { waitFor } from './wait-for.ts';
