/**
 * The gateway's Fastify application: registers each declared route (route-def.ts) with
 * authentication, zod validation, error mapping (http-errors.ts), metrics and audit.
 *
 * Request lifecycle:
 * 1. `onRequest`: the bearer key is checked (403 for a key below the route's tier); a missing or wrong
 *    key is counted by the rate limit of unauthenticated traffic (http-guards.ts, 429 past the limit)
 *    and then answered 401 in `preParsing` — either way before the body is read;
 * 2. the body is parsed by Fastify (limit → 413, bad JSON → 400, not JSON → 415);
 * 3. the handler validates body, query and path parameters with the route's zod schemas (400 naming the field)
 *    and asks the bus;
 * 4. any error becomes `{ error: { code, message, retryable, details? } }` with its status, Fastify's own
 *    router and HTTP parser errors included (414, 400, 431, 408: http-guards.ts);
 * 5. `onSend`: state-changing routes are audited (`api.call.v1`) before the answer leaves;
 * 6. `onResponse`: counted in the metrics by route pattern and status.
 *
 * Fastify's logger is off: the gateway logs through the actor's logger, and never a header.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { InvalidMessageError, UnauthenticatedError } from '../../protocols/index.ts';
import { isSubjectToken } from '../../protocols/index.ts';
import { isTier } from '../../protocols/index.ts';
import { auditApiCall } from './audit.ts';
import { type ApiKeyStore, bearerMatches, type Caller, requireTier } from './auth.ts';
import { toHttpError } from './http-errors.ts';
import { clientErrorHandler, frameworkErrors, registerRateLimit } from './http-guards.ts';
import type { AnyRoute, GatewayDeps } from './route-def.ts';
import { gatewayRoutes } from './routes/index.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The gateway's declaration of the route (route-def.ts). */
    gov?: AnyRoute;
  }
}

export interface GatewayServerOptions {
  deps: GatewayDeps;
  keys: ApiKeyStore;
  routes?: readonly AnyRoute[];
}

interface RequestState {
  startNs: bigint;
  route?: AnyRoute;
  caller?: Caller;
  /** A missing or wrong key, answered 401 once the rate limit has counted the request. */
  authError?: unknown;
  runId?: string;
  errorCode?: string;
}

const UNMATCHED_ROUTE = '(unmatched)';

/** `where.path: message` for the first problems, and the first path as `details.field`. */
export function validationError(
  where: 'body' | 'query' | 'params',
  error: z.ZodError,
): InstanceType<typeof InvalidMessageError> {
  const issues = error.issues
    .slice(0, 5)
    .map((i) => ({ field: [where, ...i.path.map(String)].join('.'), message: i.message }));
  const text = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  return new InvalidMessageError(`invalid request ${where === 'params' ? 'path' : where}: ${text}`, {
    details: { field: issues[0]?.field ?? where, issues },
  });
}

function validate<S extends z.ZodType | undefined>(
  schema: S,
  value: unknown,
  where: 'body' | 'query' | 'params',
): unknown {
  if (!schema) return undefined;
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(where, r.error);
  return r.data;
}

/** Builds (does not start) the HTTP server. */
export function createGatewayServer(options: GatewayServerOptions): FastifyInstance {
  const { deps, keys } = options;
  const routes = options.routes ?? gatewayRoutes();
  const states = new WeakMap<FastifyRequest, RequestState>();
  const stateOf = (request: FastifyRequest): RequestState => {
    let s = states.get(request);
    if (!s) {
      s = { startNs: process.hrtime.bigint() };
      states.set(request, s);
    }
    return s;
  };

  const app = Fastify({
    logger: false,
    bodyLimit: deps.settings.bodyLimitBytes,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: deps.settings.maxParamLength },
    frameworkErrors,
    clientErrorHandler,
  });
  // JSON only: Fastify's default text/plain parser would hand strings to the routes; now they get 415.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request) => {
    const state = stateOf(request);
    const route = request.routeOptions.config?.gov;
    if (!route) return;
    state.route = route;
    if (isTier(route.auth)) {
      try {
        state.caller = keys.authenticate(request.headers.authorization);
      } catch (err) {
        state.authError = err;
        return;
      }
      requireTier(state.caller, route.auth, `${route.method} ${route.url}`);
    } else if (route.auth === 'metrics' && deps.settings.metricsKey !== undefined) {
      if (!bearerMatches(request.headers.authorization, deps.settings.metricsKey)) {
        throw new UnauthenticatedError('GET /metrics needs "Authorization: Bearer <metrics key>"');
      }
    }
  });

  declareHandlers(app, deps, stateOf);

  app.addHook('preParsing', async (request) => {
    const { authError } = stateOf(request);
    if (authError !== undefined) throw authError;
  });

  // Not counted: a request whose key was checked and is valid, or that shows a valid key elsewhere (public routes, 404s).
  registerRateLimit(app, deps.settings, (request) => {
    const state = stateOf(request);
    if (state.caller !== undefined) return true;
    if (state.route !== undefined && isTier(state.route.auth)) return false;
    return keys.identify(request.headers.authorization) !== undefined;
  });

  // Routes and the 404 handler are declared once the limiter is loaded, so its onRoute hook sees them.
  app.after(() => declareRoutes(app, routes, deps, stateOf));
  return app;
}

function declareRoutes(
  app: FastifyInstance,
  routes: readonly AnyRoute[],
  deps: GatewayDeps,
  stateOf: (request: FastifyRequest) => RequestState,
): void {
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      config: { gov: route },
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const state = stateOf(request);
        const raw = request.body as { runId?: unknown } | undefined;
        if (raw && typeof raw === 'object' && typeof raw.runId === 'string' && isSubjectToken(raw.runId))
          state.runId = raw.runId;
        const body = validate(route.body, request.body, 'body');
        const query = validate(route.query, request.query, 'query');
        const params = validate(route.params, request.params, 'params');
        const result = await route.handle({
          deps,
          caller: state.caller,
          body,
          query,
          params,
          requestId: request.id,
        } as Parameters<AnyRoute['handle']>[0]);
        if (result.runId !== undefined) state.runId = result.runId;
        reply.code(result.status);
        for (const [k, v] of Object.entries(result.headers ?? {})) reply.header(k, v);
        reply.type(result.contentType ?? 'application/json; charset=utf-8');
        return result.body;
      },
    });
  }
  app.setNotFoundHandler({ preHandler: app.rateLimit() }, (request, reply) => {
    const path = request.url.split('?')[0]!.slice(0, 200);
    stateOf(request).errorCode = 'GOV_ERR_NOT_FOUND';
    reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send({
        error: {
          code: 'GOV_ERR_NOT_FOUND',
          message: `no route ${request.method} ${path} (see GET /api/openapi.json)`,
          retryable: false,
        },
      });
  });
}

function declareHandlers(
  app: FastifyInstance,
  deps: GatewayDeps,
  stateOf: (request: FastifyRequest) => RequestState,
): void {
  app.setErrorHandler((err, request, reply) => {
    const state = stateOf(request);
    const h = toHttpError(err, request.id);
    state.errorCode = h.body.error.code;
    if (h.status >= 500 && h.body.error.code === 'GOV_ERR_INTERNAL') {
      deps.log.error('request failed', {
        requestId: request.id,
        route: state.route?.url,
        error: String(err),
        stack: err instanceof Error ? err.stack : undefined,
      });
    }
    if (h.status === 401) reply.header('www-authenticate', 'Bearer realm="agov"');
    reply.code(h.status).type('application/json; charset=utf-8').send(h.body);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const state = stateOf(request);
    if (state.route?.audit && state.caller) {
      await auditApiCall(deps, {
        method: request.method,
        route: state.route.url,
        status: reply.statusCode,
        keyName: state.caller.name,
        tier: state.caller.tier,
        runId: state.runId,
        requestId: request.id,
        durationMs: Number(process.hrtime.bigint() - state.startNs) / 1e6,
        errorCode: state.errorCode,
      });
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const state = stateOf(request);
    const seconds = Number(process.hrtime.bigint() - state.startNs) / 1e9;
    deps.metrics.recordRequest(
      request.method,
      state.route?.url ?? UNMATCHED_ROUTE,
      reply.statusCode,
      seconds,
    );
  });
}
