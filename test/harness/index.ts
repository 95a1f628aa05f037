export { collect, testBus } from './bus-client.ts';
export { TestServers } from './servers.ts';
export { waitFor } from './wait-for.ts';
export { adminCreds, agentCreds, credsFor, issuerSeedOf, mintFor, observerCreds } from './credentials.ts';
