export { collect, testBus } from './bus-client.ts';
export { type ServeHandler, type ServeOptions, serve } from './serve.ts';
export { TestServers } from './servers.ts';
export { waitFor } from './wait-for.ts';
export { CLOCK_SLACK_MS } from './clock-slack.ts';
export {
  adminCreds,
  agentCreds,
  connectWatched,
  credsFile,
  credsFor,
  issuerSeedOf,
  mintFor,
  observerCreds,
  rawConnect,
} from './credentials.ts';
export { auditStreamCounts } from './audit-stream.ts';
export { AgovSystem, type CliResult } from './agov-system.ts';
export { systemGatewayUrl } from './system-ready.ts';
