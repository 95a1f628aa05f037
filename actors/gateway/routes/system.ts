/**
 * Routes about the gateway itself: health, metrics, and the OpenAPI document.
 */
import { z } from 'zod';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics.ts';
import { defineRoute } from '../route-def.ts';

const HealthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  bus: z
    .enum(['connected', 'disconnected', 'reconnecting', 'closed'])
    .describe("The gateway's NATS connection"),
  gateway: z.string().describe("The gateway actor's address"),
  uptimeMs: z.number(),
});

export const healthRoute = defineRoute({
  method: 'GET',
  url: '/health',
  operationId: 'health',
  summary: 'Is the gateway connected to the bus?',
  description:
    'No key needed. 200 while the NATS connection is up, 503 while it is down (the gateway keeps reconnecting).',
  tag: 'system',
  auth: 'public',
  responses: {
    200: { description: 'Connected', schema: HealthSchema },
    503: { description: 'Not connected to NATS', schema: HealthSchema },
  },
  handle({ deps }) {
    const bus = deps.bus.state;
    return {
      status: bus === 'connected' ? 200 : 503,
      body: {
        status: bus === 'connected' ? 'ok' : 'unavailable',
        bus,
        gateway: deps.bus.name,
        uptimeMs: deps.clock.now() - deps.startedAt,
      },
    };
  },
});

export const metricsRoute = defineRoute({
  method: 'GET',
  url: '/metrics',
  operationId: 'metrics',
  summary: 'Prometheus metrics',
  description:
    "Text exposition 0.0.4: HTTP requests by route and status, request durations, audit failures, and the gateway bus's counters " +
    '(sent, asked, rejected and dead-lettered by code). Open unless the gateway is given a `metricsKey`, then `Authorization: Bearer <metricsKey>`.',
  tag: 'system',
  auth: 'metrics',
  responses: {
    200: { description: 'The metrics', contentType: PROMETHEUS_CONTENT_TYPE, schema: z.string() },
  },
  handle({ deps }) {
    const text = deps.metrics.render({
      counters: deps.bus.metrics.snapshot(),
      connected: deps.bus.state === 'connected',
    });
    return { status: 200, body: text, contentType: PROMETHEUS_CONTENT_TYPE };
  },
});

export const openApiRoute = defineRoute({
  method: 'GET',
  url: '/api/openapi.json',
  operationId: 'openapi',
  summary: 'This API as an OpenAPI 3.1 document',
  description: 'No key needed. The same document is kept in the repository as docs/openapi.json.',
  tag: 'system',
  auth: 'public',
  responses: { 200: { description: 'The OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
  handle({ deps }) {
    return { status: 200, body: deps.apiDocument(), contentType: 'application/json; charset=utf-8' };
  },
});

export const systemRoutes = [healthRoute, metricsRoute, openApiRoute];
