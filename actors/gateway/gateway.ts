/**
 * The HTTP gateway (kind `gateway`): a Fastify server that translates HTTP calls into bus messages
 * to the actors that own them (orchestrator, token authority and renewer, budget monitor, handoff
 * service, agent directory). It holds no state of its own and talks to other actors only over NATS,
 * through its own actor connection. docs/http-api.md describes the API; docs/openapi.json is generated.
 *
 * Start arguments: gateway-options.ts (`port` 8080, 0 = a free port; `host` 127.0.0.1; `apiKeys`).
 * Its heartbeat status carries `url` (the address it listens on) and `requests` (answered so far).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { AUDIT_STREAM, ensureStreams, streamDeclarations } from '../../bus/index.ts';
import { ConfigError, toGovError } from '../../protocols/index.ts';
import { defineActorKind } from '../runtime/index.ts';
import { renderGatewayApi } from './api-document.ts';
import { ApiKeyStore } from './auth.ts';
import {
  DEFAULT_CLOSE_GRACE_MS,
  GATEWAY_KIND,
  GatewayArgsSchema,
  gatewaySettings,
} from './gateway-options.ts';
import { GatewayMetrics } from './metrics.ts';
import type { GatewayDeps } from './route-def.ts';
import { createGatewayServer } from './server.ts';

/** Stops accepting, lets in-flight requests finish for up to `graceMs`, then drops what is left. */
export async function closeGatewayServer(
  app: FastifyInstance,
  graceMs = DEFAULT_CLOSE_GRACE_MS,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), graceMs);
  });
  const outcome = await Promise.race([app.close().then(() => 'closed' as const), grace]);
  clearTimeout(timer);
  if (outcome === 'timeout') app.server.closeAllConnections();
}

export const gatewayKind = defineActorKind({
  kind: GATEWAY_KIND,
  description:
    'HTTP API (Fastify) in front of the bus: pipelines, run tokens, error budgets, handoffs, agents, health, metrics',
  args: GatewayArgsSchema,
  async start(ctx) {
    const settings = gatewaySettings(ctx.args);
    const keys = ApiKeyStore.fromConfig(settings.apiKeySpecs, settings.apiKeysFile);
    if (keys.size === 0)
      ctx.log.warn(
        'no API keys configured (apiKeys, AGOV_API_KEYS, AGOV_API_KEYS_FILE): every /api route answers 401',
      );
    await ensureStreams(
      ctx.bus,
      streamDeclarations().filter((d) => d.name === AUDIT_STREAM),
    );
    const metrics = new GatewayMetrics();
    const deps: GatewayDeps = {
      bus: ctx.bus,
      settings,
      metrics,
      clock: ctx.clock,
      log: ctx.log,
      startedAt: ctx.clock.now(),
      apiDocument: renderGatewayApi,
    };
    const app = createGatewayServer({ deps, keys });
    try {
      await app.listen({ port: settings.port, host: settings.host });
    } catch (err) {
      await app.close().catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(
        `gateway cannot listen on ${settings.host}:${settings.port} (${code ?? toGovError(err).message})`,
        { cause: err },
      );
    }
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    ctx.log.info('gateway listening', { url, keys: keys.list() });
    return {
      accepts: [],
      service: false,
      status: () => ({ url, port: address.port, requests: metrics.totalRequests() }),
      handle: () => undefined,
      async stop() {
        await closeGatewayServer(app);
      },
    };
  },
});
