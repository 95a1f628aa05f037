/**
 * A gateway route, declared once: method, path, tier, the zod schemas of its body / query / path
 * parameters and responses, and its handler. The same declaration registers the Fastify route,
 * validates requests, and generates the OpenAPI document (openapi.ts), so they cannot drift apart.
 */
import type { z } from 'zod';
import type { Bus } from '../../bus/index.ts';
import type { Clock } from '../../infra/index.ts';
import type { Logger } from '../../infra/index.ts';
import type { Tier } from '../../protocols/index.ts';
import type { Caller } from './auth.ts';
import type { GatewaySettings } from './gateway-options.ts';
import type { GatewayMetrics } from './metrics.ts';

/** Who may call: a minimum key tier, anyone (`public`), or the optional metrics key (`metrics`). */
export type RouteAuth = Tier | 'public' | 'metrics';

/** What handlers can use: the gateway's own bus connection and settings. Nothing else is shared. */
export interface GatewayDeps {
  bus: Bus;
  settings: GatewaySettings;
  metrics: GatewayMetrics;
  clock: Clock;
  log: Logger;
  /** When the gateway started (Clock ms). */
  startedAt: number;
  /** This API's OpenAPI document, rendered (api-document.ts). */
  apiDocument(): string;
}

export interface RouteContext<B, Q, P> {
  deps: GatewayDeps;
  /** The authenticated key (undefined on public routes). */
  caller: Caller | undefined;
  body: B;
  query: Q;
  params: P;
  requestId: string;
}

export interface RouteResult {
  status: number;
  body: unknown;
  /** Default application/json. */
  contentType?: string;
  headers?: Record<string, string>;
  /** The run this call was about, for the audit record (else the body's `runId`). */
  runId?: string;
}

export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
type Schema = z.ZodType | undefined;

export interface RouteSpec<
  B extends Schema = undefined,
  Q extends Schema = undefined,
  P extends Schema = undefined,
> {
  method: 'GET' | 'POST';
  /** Fastify path (`/api/agents/:id`). */
  url: string;
  operationId: string;
  summary: string;
  description: string;
  tag: string;
  auth: RouteAuth;
  /** State-changing: each call made with a valid key is audited (`api.call.v1` on `gov.audit.api`). */
  audit?: boolean;
  body?: B;
  query?: Q;
  params?: P;
  /** Success answers, by status. */
  responses: Record<number, RouteResponse>;
  /** Error statuses the route can answer besides those implied by its auth and schemas (400/401/403/413/500). */
  errors?: number[];
  handle(ctx: RouteContext<Out<B>, Out<Q>, Out<P>>): Promise<RouteResult> | RouteResult;
}

export type AnyRoute = RouteSpec<Schema, Schema, Schema>;

/** Declares a route with its handler's types inferred from the schemas. */
export function defineRoute<
  B extends Schema = undefined,
  Q extends Schema = undefined,
  P extends Schema = undefined,
>(spec: RouteSpec<B, Q, P>): AnyRoute {
  return spec as unknown as AnyRoute;
}
