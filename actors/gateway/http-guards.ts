/**
 * What stands before the routes: errors Fastify and Node raise before a route runs, answered in the
 * documented error shape, and the rate limit of traffic without a valid API key.
 *
 * - Router errors (a path parameter over `maxParamLength` → 414, a malformed URL → 400) go through
 *   Fastify's `frameworkErrors`; without it Fastify writes its own `{statusCode, error, message}`.
 * - Errors of the HTTP parser itself (bad request line, headers too large → 431, request timeout → 408)
 *   reach `clientErrorHandler` with only the socket: the answer is written raw, then the socket closed.
 * - `@fastify/rate-limit` counts, per client address, every request that does not carry a valid key
 *   (none, a wrong or malformed one, and public routes except `/health`); past `unauthenticatedRateMax`
 *   per `rateLimitWindowMs` it answers 429 `GOV_ERR_RATE_LIMITED` with `Retry-After`. The key is checked
 *   before the limiter runs (server.ts defers the 401 until after it), so failed authentication counts.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidMessageError, RateLimitedError } from '../../protocols/index.ts';
import type { GatewaySettings } from './gateway-options.ts';
import { type HttpErrorBody, toHttpError } from './http-errors.ts';

/** Routes the limiter never counts: liveness probes poll them without a key. */
export const RATE_LIMIT_EXEMPT_URLS: readonly string[] = ['/health'];

/** Fastify's `frameworkErrors`: router errors in the documented shape. */
export function frameworkErrors(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const h = toHttpError(err, request.id);
  reply.code(h.status).type('application/json; charset=utf-8').send(h.body);
}

/** The raw answer to an error of Node's HTTP parser (no request object exists yet). */
export function clientErrorAnswer(err: NodeJS.ErrnoException): { status: number; body: HttpErrorBody } {
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'request headers are larger than the gateway accepts']
        : [400, 'malformed HTTP request'];
  const gov = new InvalidMessageError(message, { details: { reason: err.code ?? 'client-error' } });
  return { status, body: { error: { code: gov.code, message, retryable: false, details: gov.details } } };
}

/** Fastify's `clientErrorHandler`. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, body } = clientErrorAnswer(err);
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}

/**
 * Registers the limiter. `authenticated(request)` says whether the request carried a valid key (the
 * gateway's onRequest hook has checked it by then); those requests are not counted.
 */
export function registerRateLimit(
  app: FastifyInstance,
  settings: Pick<GatewaySettings, 'unauthenticatedRateMax' | 'rateLimitWindowMs'>,
  authenticated: (request: FastifyRequest) => boolean,
): void {
  app.register(rateLimit, {
    global: true,
    max: settings.unauthenticatedRateMax,
    timeWindow: settings.rateLimitWindowMs,
    allowList: (request) =>
      authenticated(request) || RATE_LIMIT_EXEMPT_URLS.includes(request.routeOptions.url ?? ''),
    addHeadersOnExceeding: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
    },
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new RateLimitedError(
          `too many requests without a valid API key from this address; retry in ${context.after}`,
          { details: { limit: context.max, retryAfterSeconds: Math.ceil(context.ttl / 1000) } },
        ),
        { statusCode: context.statusCode },
      ),
  });
}
